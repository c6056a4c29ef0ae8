# Run with cmake -P (see CMakeLists.txt). Fails with a message naming the step that failed.
foreach(var IN ITEMS EMBRT_BUILD_DIR EMBRT_CONSUMER_SOURCE_DIR EMBRT_WORK_DIR EMBRT_GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_test.cmake needs -D${var}=...")
  endif()
endforeach()
if(NOT EMBRT_BUILD_TYPE)
  set(EMBRT_BUILD_TYPE Release)
endif()

set(prefix "${EMBRT_WORK_DIR}/prefix")
set(consumer_build "${EMBRT_WORK_DIR}/consumer-build")
file(REMOVE_RECURSE "${EMBRT_WORK_DIR}")
file(MAKE_DIRECTORY "${EMBRT_WORK_DIR}")

function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "install_test: ${name} failed (${result})\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

run_step("cmake --install" "${CMAKE_COMMAND}" --install "${EMBRT_BUILD_DIR}" --prefix "${prefix}")
foreach(file IN ITEMS include/embrt/config.h include/embrt/config.pb.h include/embrt/plugin_api.h
                      include/embrt/plugin_sdk.h include/embrt/status_macros.h
                      include/embrt/plugin_c_helpers.h share/embrt/skeleton_c/skeleton.c
                      share/embrt/plugin_api/plugin_exports.map share/embrt/plugin_api/MATH.md)
  if(NOT EXISTS "${prefix}/${file}")
    message(FATAL_ERROR "install_test: ${file} was not installed under ${prefix}")
  endif()
endforeach()
file(GLOB private_headers "${prefix}/include/embrt/*loader*.h" "${prefix}/include/embrt/initializers.h")
if(private_headers)
  message(FATAL_ERROR "install_test: private headers were installed: ${private_headers}")
endif()

run_step("configuring the consumer" "${CMAKE_COMMAND}" -S "${EMBRT_CONSUMER_SOURCE_DIR}"
         -B "${consumer_build}" -G "${EMBRT_GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix}"
         "-DCMAKE_BUILD_TYPE=${EMBRT_BUILD_TYPE}")
run_step("building the consumer" "${CMAKE_COMMAND}" --build "${consumer_build}")
run_step("running the consumer" "${consumer_build}/embrt_consumer")
if(NOT step_output MATCHES "tables: video user")
  message(FATAL_ERROR "install_test: unexpected consumer output: ${step_output}")
endif()
message(STATUS "install_test: ok: ${step_output}")
file(REMOVE_RECURSE "${EMBRT_WORK_DIR}")
