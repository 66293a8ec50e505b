# Installs latent from a build tree into a fresh prefix, then configures,
# builds and runs tests/consumer against that prefix alone; any failing step
# fails the test with its output. Run by ctest (tests/CMakeLists.txt):
#   cmake -DLATENT_BUILD=<build tree> -DWORK=<scratch dir> -DGENERATOR=<gen>
#         -DCXX_COMPILER=<c++> -DBUILD_TYPE=<type> -P check_install.cmake
foreach(var LATENT_BUILD WORK GENERATOR CXX_COMPILER)
  if("${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_install.cmake needs -D${var}=...")
  endif()
endforeach()

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "failed (${status}): ${command}")
  endif()
endfunction()

set(prefix ${WORK}/prefix)
set(build ${WORK}/build)
file(REMOVE_RECURSE ${WORK})

step(${CMAKE_COMMAND} --install ${LATENT_BUILD} --prefix ${prefix} --component dev)
step(${CMAKE_COMMAND} --install ${LATENT_BUILD} --prefix ${prefix} --component cli)
step(${prefix}/bin/latent --version)

# latent from the prefix alone (no package registry), as the check below proves.
step(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR} -B ${build} -G ${GENERATOR}
     -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
     -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
file(STRINGS ${build}/CMakeCache.txt found REGEX "^latent_DIR:")
string(FIND "${found}" "=${prefix}/" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the consumer found latent outside ${prefix}: ${found}")
endif()
step(${CMAKE_COMMAND} --build ${build})
step(${build}/consumer)
