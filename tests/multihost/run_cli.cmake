# ctest driver: `embrt train` alone and under `mpirun -np NP` with the same global batch must
# print the same held-out metrics, and the mpirun job exactly one summary (host 0's).
set(args train --steps=120 --batch_size=64 --eval_examples=2000 --synthetic_fields=6 --quiet)
execute_process(COMMAND "${EMBRT}" ${args}
  RESULT_VARIABLE rc1 OUTPUT_VARIABLE out1 ERROR_VARIABLE err1 TIMEOUT 60)
execute_process(COMMAND "${MPIEXEC}" -n ${NP} --oversubscribe --timeout 60 "${EMBRT}" ${args}
  RESULT_VARIABLE rcn OUTPUT_VARIABLE outn ERROR_VARIABLE errn TIMEOUT 90)
message("one host:\n${out1}${err1}\nmpirun -np ${NP}:\n${outn}${errn}")
if(NOT rc1 EQUAL 0 OR NOT rcn EQUAL 0)
  message(FATAL_ERROR "embrt train failed (exit ${rc1} alone, ${rcn} under mpirun)")
endif()
string(REGEX MATCH "held-out[^\n]*" held1 "${out1}")
string(REGEX MATCH "held-out[^\n]*" heldn "${outn}")
if(held1 STREQUAL "" OR NOT held1 STREQUAL heldn)
  message(FATAL_ERROR "held-out metrics differ: '${held1}' alone, '${heldn}' on ${NP} hosts")
endif()
string(REGEX MATCHALL "embrt train:" summaries "${outn}")
list(LENGTH summaries count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "${count} summaries under mpirun -np ${NP}; expected host 0's only")
endif()
if(NOT outn MATCHES "hosts +${NP} \\(mpirun\\)")
  message(FATAL_ERROR "the summary does not say it ran on ${NP} hosts")
endif()
