# Runs embrt_conformance with a known-failures list and a report, and checks both: the run
# passes (exit 0) although the listed test fails, and the JSON report names that test as a
# known failure with its rules, and the plugin's attributes.
# cmake -DPROGRAM=... -DPLUGIN=... -DKNOWN=... -DREPORT=... -P check_report.cmake
execute_process(
  COMMAND "${PROGRAM}" "--plugin=${PLUGIN}" "--known_failures=${KNOWN}" "--report=${REPORT}"
  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "embrt_conformance exited with ${code}:\n${out}\n${err}")
endif()
file(READ "${REPORT}" report)
foreach(expected
    "\"test\": \"NumericConformanceTest.RandomModelsMatchTheScalarReference\", \"plugin\": \"${PLUGIN}\", \"status\": \"known_failure\", \"rules\": \"8, 9, 27, 28\""
    "\"exact_math\": 1"
    "\"name\": \"overclaiming_skeleton\""
    "\"status\": \"skip\""
    "\"status\": \"pass\"")
  string(FIND "${report}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the report lacks ${expected}:\n${report}")
  endif()
endforeach()
