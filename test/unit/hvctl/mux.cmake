# The hvctl broker's routing table (tools/hvctl/mux_route.c), without sockets.
hv_unit_test(hvctl_mux_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mux_test.c ${PROJECT_SOURCE_DIR}/tools/hvctl/mux_route.c
    LABELS control INCLUDES ${HVCTL_TEST_INCLUDES} LIBS proto_host DEFINES ${HVCTL_TEST_DEFINES})
add_dependencies(hvctl_mux_test proto_gen)
