# The libuv coordinator (library mg_coordinator, header mg_coordinator.h):
# codegen runs, worker processes, sample files, shard merging.
mg_add_library(mg_coordinator SOURCES codegen.c pool.c outputs.c merge.c
               DEPS mg_shm mg_datasets mg_template mg_evaluate PkgConfig::LIBUV PkgConfig::JANSSON mg_common m)
set_property(GLOBAL APPEND PROPERTY MG_LIBS mg_coordinator)
