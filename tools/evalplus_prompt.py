"""EvalPlus's codegen prompt for one task, as `evalplus.codegen` builds it,
for the tools that replay EvalPlus (prompt_compare, codegen_compare,
router_compare, make_json_goldens). EvalPlus keeps its default instruction
and response prefixes inside run_codegen, so they are spelled out here once.
"""

INSTRUCTION_PREFIX = ("Please provide a self-contained Python script that solves the following "
                      "problem in a markdown code block:")
RESPONSE_PREFIX = ("Below is a Python script with a self-contained function that solves the "
                   "problem and passes corresponding tests:")


def evalplus_prompt(task_prompt, tok, chat):
    """task["prompt"].strip() + "\\n" for direct completion; the chat prompt
    (make_raw_chat_prompt with tok's template) when `chat`."""
    base = task_prompt.strip() + "\n"
    if not chat:
        return base
    from evalplus.provider.utility import make_raw_chat_prompt
    return make_raw_chat_prompt(base, INSTRUCTION_PREFIX, RESPONSE_PREFIX, tok)
