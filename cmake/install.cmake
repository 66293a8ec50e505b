# Install rules: `cmake --install build` puts the library, its headers and
# a CMake package under the prefix, so that another project can
#   find_package(latent REQUIRED)
#   target_link_libraries(app PRIVATE latent::latent)
# and the CLI in bin/latent. Components: dev (library, headers, package
# files) and cli; python (python/CMakeLists.txt) is separate. A plain
# `cmake --install` installs them all.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LATENT_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/latent)

# latent_options goes along because latent links it PUBLIC: installed, it
# carries C++20 (and the sanitizer/-march flags of such a build, which a
# consumer must share), not the project's warnings (BUILD_INTERFACE).
install(TARGETS latent latent_options EXPORT latentTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/latent DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT dev FILES_MATCHING PATTERN "*.hpp")
install(EXPORT latentTargets NAMESPACE latent:: DESTINATION ${LATENT_CMAKE_INSTALL_DIR}
        COMPONENT dev)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/latentConfig.cmake.in
  ${PROJECT_BINARY_DIR}/latentConfig.cmake INSTALL_DESTINATION ${LATENT_CMAKE_INSTALL_DIR})
# Before 1.0 a minor version may change the API: 0.1.x accepts only 0.1 requests.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/latentConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/latentConfig.cmake
        ${PROJECT_BINARY_DIR}/latentConfigVersion.cmake
        DESTINATION ${LATENT_CMAKE_INSTALL_DIR} COMPONENT dev)

if(TARGET latent_cli)
  install(TARGETS latent_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
endif()
