# embrt_add_test(NAME SOURCES a.cc b.cc LIBS x y LABELS unit golden [TIMEOUT seconds])
# A gtest binary whose tests are registered one by one with ctest. Every plugin target is a
# build dependency, and the environment points EMBRT_PLUGIN_PATH at the built plugins and
# EMBRT_SHARED_DATA at ../shared/data (tests skip with a message when it is missing).
set(EMBRT_SHARED_DATA_DIR "${PROJECT_SOURCE_DIR}/../shared/data" CACHE PATH
    "Sample data (Criteo); tests that need it skip when it is missing")

function(embrt_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest_main
                        embrt_compile_options Threads::Threads)
  foreach(plugin IN ITEMS embrt_backend_mock embrt_backend_cpu)
    if(TARGET ${plugin})
      add_dependencies(${name} ${plugin})
    endif()
  endforeach()
  set(label_properties)
  foreach(label IN LISTS ARG_LABELS)
    list(APPEND label_properties LABELS ${label})
  endforeach()
  # TIMEOUT: tests that would hang without the fix (a FIFO opened for reading) fail instead.
  if(ARG_TIMEOUT)
    list(APPEND label_properties TIMEOUT ${ARG_TIMEOUT})
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    # gtest_discover_tests splits list values, so each variable travels in its own property.
    PROPERTIES ${label_properties}
      ENVIRONMENT "EMBRT_PLUGIN_PATH=${PROJECT_BINARY_DIR}/plugins"
      ENVIRONMENT_MODIFICATION "EMBRT_SHARED_DATA=set:${EMBRT_SHARED_DATA_DIR}")
endfunction()
