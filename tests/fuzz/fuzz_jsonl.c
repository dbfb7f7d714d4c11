/* fuzz_jsonl.c — libFuzzer harness for the dataset reader: gzip detection and
 * inflation, line splitting, the NaN/Infinity pre-pass, record checks, then
 * the prompt, json.dumps and truncation paths on whatever tasks come out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg_dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = NULL;
    size_t len = 0;
    mg_error err = {0};
    if (mg_gunzip_maybe("fuzz", data, size, &text, &len, &err) < 0) return 0;
    mg_dataset ds;
    if (mg_dataset_parse("fuzz", "custom", text, len, &ds, &err) == 0) {
        mg_prompt_params pp = {.dataset = "humaneval", .direct_completion = true};
        mg_strlist stops = {0};
        mg_prompt_stops(&pp, &stops, &err);
        for (size_t i = 0; i < ds.n_tasks; i++) {
            char *prompt = NULL;
            if (mg_prompt_build(&pp, &ds.tasks[i], &prompt, &err) == 0) {
                mg_sbuf b = {0};
                mg_json_dumps_record(&b, ds.tasks[i].task_id, prompt, strlen(prompt), &err);
                mg_sbuf_free(&b);
                char *t = mg_completion_truncate(prompt, strlen(prompt), &stops);
                free(t);
            }
            free(prompt);
        }
        mg_strlist_free(&stops);
        mg_dataset_select(&ds, "0,100", NULL, &err);
        mg_dataset_free(&ds);
    }
    free(text);
    return 0;
}
