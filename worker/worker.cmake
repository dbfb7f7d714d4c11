# The worker process logic (library mg_worker, header mg_worker.h): rings in,
# engine in the middle, streamed text out. `moegen worker` calls it.
mg_add_library(mg_worker SOURCES worker.c
               DEPS mg_shm mg_engine mg_model mg_tokenizer mg_common)
set_property(GLOBAL APPEND PROPERTY MG_LIBS mg_worker)
