# add_guest(NAME SOURCES src... [INCLUDES dir...] [LIBS lib...])
#   Builds the domain image NAME (a static ELF64) from the sources with the
#   guest-kit runtime and libc subset. The image is ${CMAKE_CURRENT_BINARY_DIR}/NAME.
#
# The same file serves two builds:
#   - in this tree (guest-kit/CMakeLists.txt): the flags come from
#     cmake/flags.cmake (hv_freestanding), with -Wconversion -Wsign-conversion
#     for every domain, example and test guest, and the libraries are the
#     targets gk_runtime and hvlibc_guest;
#   - from the installed package (find_package(guest-kit), which sets
#     GK_PACKAGE): the flags were recorded at install time in
#     guest-kit-config.cmake and the libraries are the imported targets
#     guest-kit::runtime (which brings guest-kit::proto: the CBOR codec,
#     framing and rings) and guest-kit::libc. There, gk_freestanding(TARGET)
#     also gives the guest flags to a library of the user's own.

if(GK_PACKAGE)
  # Compile options of domain code: warnings (GK_WARNINGS, may be changed
  # after find_package), the guest flags, and only the compiler's own headers
  # plus guest-kit's (never the host's C library).
  function(gk_freestanding target)
    target_compile_options(${target} PRIVATE ${GK_WARNINGS}
        $<$<COMPILE_LANGUAGE:C>:${GK_GUEST_CFLAGS}>
        $<$<COMPILE_LANGUAGE:ASM>:-fno-pic>
        -nostdinc -isystem ${GK_CC_INCLUDE})
    target_include_directories(${target} PRIVATE ${GUEST_KIT_LIBC_INCLUDE_DIR}
        ${GUEST_KIT_INCLUDE_DIR})
  endfunction()
endif()

function(add_guest name)
  cmake_parse_arguments(G "" "" "SOURCES;INCLUDES;LIBS" ${ARGN})
  add_executable(${name} ${G_SOURCES})
  if(GK_PACKAGE)
    gk_freestanding(${name})
    target_link_options(${name} PRIVATE ${GK_GUEST_LDFLAGS})
    target_include_directories(${name} PRIVATE ${G_INCLUDES})
    target_link_options(${name} PRIVATE -T ${GK_LINKER_SCRIPT})
    set_target_properties(${name} PROPERTIES LINK_DEPENDS ${GK_LINKER_SCRIPT})
    target_link_libraries(${name} PRIVATE ${G_LIBS} guest-kit::runtime guest-kit::libc gcc)
  else()
    hv_freestanding(${name} GUEST)
    target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:C>:${HV_CONVERSION_WARNINGS}>)
    target_link_options(${name} PRIVATE ${HV_GUEST_GC_LDFLAGS})
    target_include_directories(${name} PRIVATE ${G_INCLUDES})
    target_link_options(${name} PRIVATE -T ${GK_LINKER_SCRIPT})
    set_target_properties(${name} PROPERTIES LINK_DEPENDS ${GK_LINKER_SCRIPT})
    target_link_libraries(${name} PRIVATE ${G_LIBS} gk_runtime hvlibc_guest)
  endif()
endfunction()
