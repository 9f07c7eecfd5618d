# Install rules and the CMake package of guest-kit, all in the install
# component `guest-kit` (cmake --install BUILD --component guest-kit):
#
#   <prefix>/include/guest-kit/gk/*.h        the SDK headers
#   <prefix>/include/guest-kit/hv/*.h        the guest ABI and protocol headers
#                                            (proto/include/hv, generated proto_msgs.h)
#   <prefix>/include/guest-kit/libc/*.h      the libc subset (used with -nostdinc)
#   <prefix>/include/guest-kit/hvlib/*.h     code shared with the hypervisor (lib/)
#   <prefix>/lib/guest-kit/libgk_runtime.a, libhvlibc_guest.a, libproto_guest.a,
#                                            libhvlib_guest.a, guest.ld
#   <prefix>/lib/cmake/guest-kit/            guest-kit-config.cmake,
#                                            guest-kit-config-version.cmake, add_guest.cmake
#
# The package is relocatable (paths are relative to the config file). The
# compile and link flags are those of cmake/flags.cmake at install time;
# the link options are repeated here because hv_freestanding() keeps them
# inside its body: keep the two lists equal.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(GK_VERSION 0.1.0)
file(STRINGS ${PROJECT_SOURCE_DIR}/proto/include/hv/abi.h GK_ABI_LINE
    REGEX "^#define HV_ABI_VERSION [0-9]+u?$")
string(REGEX REPLACE "^#define HV_ABI_VERSION ([0-9]+)u?$" "\\1" GK_ABI_VERSION "${GK_ABI_LINE}")

set(GK_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/guest-kit)
set(GK_INSTALL_LIBDIR ${CMAKE_INSTALL_LIBDIR}/guest-kit)
set(GK_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/guest-kit)

install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/gk
    DESTINATION ${GK_INSTALL_INCLUDEDIR} COMPONENT guest-kit FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/include/hv
    DESTINATION ${GK_INSTALL_INCLUDEDIR} COMPONENT guest-kit FILES_MATCHING PATTERN "*.h")
install(FILES ${PROTO_GEN_DIR}/hv/proto_msgs.h
    DESTINATION ${GK_INSTALL_INCLUDEDIR}/hv COMPONENT guest-kit)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/libc/include/
    DESTINATION ${GK_INSTALL_INCLUDEDIR}/libc COMPONENT guest-kit FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/include/hvlib
    DESTINATION ${GK_INSTALL_INCLUDEDIR} COMPONENT guest-kit FILES_MATCHING PATTERN "*.h")
install(TARGETS gk_runtime hvlibc_guest proto_guest hvlib_guest
    ARCHIVE DESTINATION ${GK_INSTALL_LIBDIR} COMPONENT guest-kit)
install(FILES ${GK_LINKER_SCRIPT} DESTINATION ${GK_INSTALL_LIBDIR} COMPONENT guest-kit)

# Flags recorded into the package.
set(GK_CFG_WARNINGS "${HV_WARNINGS}")
set(GK_CFG_GUEST_CFLAGS "${HV_GUEST_CFLAGS}")
set(GK_CFG_GUEST_LDFLAGS -nostdlib -static -no-pie -Wl,--build-id=none
    -Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
    ${HV_GUEST_GC_LDFLAGS})
configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/guest-kit-config.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/guest-kit-config.cmake
    INSTALL_DESTINATION ${GK_INSTALL_CMAKEDIR}
    PATH_VARS GK_INSTALL_INCLUDEDIR GK_INSTALL_LIBDIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/guest-kit-config-version.cmake
    VERSION ${GK_VERSION} COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/guest-kit-config.cmake
    ${CMAKE_CURRENT_BINARY_DIR}/guest-kit-config-version.cmake
    ${CMAKE_CURRENT_SOURCE_DIR}/cmake/add_guest.cmake
    DESTINATION ${GK_INSTALL_CMAKEDIR} COMPONENT guest-kit)
