/* mg_hfpaths.h — where huggingface_hub keeps things, by its own rules
 * (huggingface_hub/constants.py), so moegen's model lookup (worker/model)
 * and its downloader (coordinator/sources) read and fill the same cache as
 * the Python tools on the same machine. */
#ifndef MG_HFPATHS_H
#define MG_HFPATHS_H

#include <stdbool.h>
#include <stddef.h>

/* HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface, with
 * ~ from HOME or, when HOME is unset, the user's passwd entry (as Python's
 * expanduser). False when no folder can be named or it does not fit in cap. */
bool mg_hf_home(char *out, size_t cap);

/* HF_HUB_CACHE, else the deprecated HUGGINGFACE_HUB_CACHE, else
 * mg_hf_home()/hub. Empty variables count as unset. */
bool mg_hf_hub_cache(char *out, size_t cap);

#endif /* MG_HFPATHS_H */
