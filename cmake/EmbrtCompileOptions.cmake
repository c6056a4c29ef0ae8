# Warnings and sanitizers shared by every embrt target.

add_library(embrt_compile_options INTERFACE)
target_compile_options(embrt_compile_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>
  $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra>)

if(EMBRT_SANITIZE)
  string(REPLACE ";" "," _embrt_sanitizers "${EMBRT_SANITIZE}")
  # Applied globally so that dlopen'd plugins and test helpers share one runtime.
  add_compile_options(-fsanitize=${_embrt_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${_embrt_sanitizers})
  # No target_clones under TSan: an ifunc resolver runs during relocation, before the TSan
  # runtime exists, and its instrumented code crashes the process at load. Said here rather
  # than through __SANITIZE_THREAD__, which TSan builds undefine for protobuf's headers
  # (proto/CMakeLists.txt) in every target that uses them, libembrt included.
  if("thread" IN_LIST EMBRT_SANITIZE)
    add_compile_definitions(EMBRT_NO_MULTIVERSION=1)
  endif()
endif()

# libFuzzer targets (tests/fuzz): clang only. Everything is built with coverage
# instrumentation (fuzzer-no-link) so that the fuzzers see inside libembrt; only the fuzz
# binaries link libFuzzer's main. Use the "fuzz" preset, which also turns on ASan + UBSan.
option(EMBRT_FUZZ "Build the libFuzzer targets of tests/fuzz (needs clang)" OFF)
if(EMBRT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "EMBRT_FUZZ needs clang (e.g. -DCMAKE_CXX_COMPILER=clang++-14 "
                        "-DCMAKE_C_COMPILER=clang-14, or `cmake --preset fuzz`)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

find_program(EMBRT_CCACHE ccache)
if(EMBRT_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_C_COMPILER_LAUNCHER "${EMBRT_CCACHE}")
  set(CMAKE_CXX_COMPILER_LAUNCHER "${EMBRT_CCACHE}")
endif()

# embrt_add_plugin(NAME SOURCES...): a backend shared object that exports exactly one symbol,
# EMBRT_GetPluginApi, through the shared linker version script.
function(embrt_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE embrt_plugin_api embrt_compile_options Threads::Threads)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/plugins")
  target_link_options(${name} PRIVATE
    "-Wl,--version-script=${PROJECT_SOURCE_DIR}/plugin_api/plugin_exports.map"
    "-Wl,--no-undefined")
  set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS
    "${PROJECT_SOURCE_DIR}/plugin_api/plugin_exports.map")
endfunction()
