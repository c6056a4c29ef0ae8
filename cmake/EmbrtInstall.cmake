# Installs the public headers, libembrt, the generated config headers and the plugins, and
# exports embrt::embrt for find_package(embrt CONFIG).
include(CMakePackageConfigHelpers)

install(DIRECTORY "${PROJECT_SOURCE_DIR}/core/include/embrt"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" FILES_MATCHING PATTERN "*.h"
        PATTERN "internal" EXCLUDE)
install(FILES "${PROJECT_SOURCE_DIR}/plugin_api/include/embrt/plugin_api.h"
              "${PROJECT_SOURCE_DIR}/plugin_api/include/embrt/plugin_sdk.h"
              "${PROJECT_SOURCE_DIR}/plugin_api/include/embrt/plugin_c_helpers.h"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/embrt")
# The vendor kit: the contract, the export map and the C skeleton to copy.
install(FILES "${PROJECT_SOURCE_DIR}/plugin_api/README.md" "${PROJECT_SOURCE_DIR}/plugin_api/MATH.md"
              "${PROJECT_SOURCE_DIR}/plugin_api/CHANGELOG.md"
              "${PROJECT_SOURCE_DIR}/plugin_api/plugin_exports.map"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/embrt/plugin_api")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/plugins/skeleton_c"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/embrt" PATTERN "CMakeLists.txt" EXCLUDE)
install(DIRECTORY "${PROJECT_BINARY_DIR}/proto/embrt"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" FILES_MATCHING PATTERN "*.pb.h")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/proto/embrt"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/embrt/proto" FILES_MATCHING PATTERN "*.proto")

install(TARGETS embrt embrt_proto embrt_plugin_api embrt_compile_options EXPORT embrtTargets
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
foreach(plugin IN ITEMS embrt_backend_cpu embrt_backend_mock embrt_backend_tpu)
  if(TARGET ${plugin})
    install(TARGETS ${plugin} LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}/embrt")
  endif()
endforeach()

install(EXPORT embrtTargets NAMESPACE embrt:: DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/embrt")
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/embrtConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/embrtConfig.cmake"
  INSTALL_DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/embrt")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/embrtConfigVersion.cmake"
  COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/embrtConfig.cmake" "${PROJECT_BINARY_DIR}/embrtConfigVersion.cmake"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/embrt")
