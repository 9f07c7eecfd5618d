# The hvctl broker's routing table (tools/hvctl/mux_route.c), without sockets.
hv_unit_test(hvctl_mux_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mux_test.c ${PROJECT_SOURCE_DIR}/tools/hvctl/mux_route.c
    LABELS control INCLUDES ${HVCTL_TEST_INCLUDES} LIBS proto_host DEFINES ${HVCTL_TEST_DEFINES})
add_dependencies(hvctl_mux_test proto_gen)
# The broker's sockets and event loop against the fake control domain.
hv_unit_test(hvctl_mux_sock_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mux_sock_test.c ${CMAKE_CURRENT_SOURCE_DIR}/fake_server.c
            ${PROJECT_SOURCE_DIR}/tools/hvctl/mux.c ${PROJECT_SOURCE_DIR}/tools/hvctl/mux_route.c
            ${PROJECT_SOURCE_DIR}/tools/hvctl/mux_admit.c
            ${LIBHVCTL_SOURCES}
    LABELS control INCLUDES ${HVCTL_TEST_INCLUDES} LIBS ${HVCTL_TEST_LIBS} DEFINES ${HVCTL_TEST_DEFINES})
add_dependencies(hvctl_mux_sock_test proto_gen)
# The broker's admission policy (who may hold a connection, issue 20 item 4).
hv_unit_test(hvctl_mux_admit_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/mux_admit_test.c ${PROJECT_SOURCE_DIR}/tools/hvctl/mux_admit.c
    LABELS control INCLUDES ${HVCTL_TEST_INCLUDES} DEFINES ${HVCTL_TEST_DEFINES})
