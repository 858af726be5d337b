# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_llmpipe_global_optspecs
    string join \n h/help V/version
end

function __fish_llmpipe_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_llmpipe_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_llmpipe_using_subcommand
    set -l cmd (__fish_llmpipe_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c llmpipe -n "__fish_llmpipe_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -f -a "complete" -d 'Send one request and print the whole reply'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -f -a "stream" -d 'Send one request and print the reply as it arrives'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -f -a "extract-json" -d 'Get a JSON value back, validated against a schema, repaired if needed'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -f -a "classify" -d 'Get one label from a fixed set back'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -f -a "count-tokens" -d 'Count the input\'s tokens for a model, offline (exact for OpenAI models)'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -f -a "estimate-cost" -d 'Estimate what the request would cost, before sending it'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -f -a "models" -d 'List the model table: encodings, limits, prices and where they come from'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -f -a "prompts" -d 'List, show and render versioned prompt files'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -f -a "logs" -d 'Show the call log, or what it cost (`logs cost`)'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -f -a "eval" -d 'Score prompt versions × models on labelled data; gates for CI (exit 8)'
complete -c llmpipe -n "__fish_llmpipe_needs_command" -f -a "batch" -d 'Large jobs on the providers\' Batch APIs: half the price, results within 24 h'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -s f -l file -d 'Add a file\'s text to the input (repeatable, in order)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -s m -l model -d 'Model id or alias [default: config, then LLMPIPE_MODEL, then gpt-4.1-mini]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -s p -l provider -d 'API to use [default: inferred from the model: claude-* is anthropic, else openai]' -r -f -a "openai\t''
anthropic\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -s s -l system -d 'System prompt (replaces a prompt file\'s)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l prompt -d 'Use a versioned prompt file (latest version without @vN)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l var -d 'Template variable for the prompt file (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l prompts-dir -d 'Look for prompt files here first' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -s t -l temperature -d 'Sampling temperature' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l max-tokens -d 'Output token cap, always sent [default: config, then 1024]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l stop -d 'Stop sequence (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l image -d 'Attach an image: a PNG, JPEG, GIF or WebP file, or an http(s) URL (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l timeout -d 'Seconds per attempt: the whole reply, or a stream\'s first event and longest silence [default: 120]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l retries -d 'Retries after the first attempt for transient failures [default: 3]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l fallback -d 'Model to try when the primary fails after its retries (repeatable, in order)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l cid -d 'Continue the conversation with this id (see `llmpipe logs`)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l line-format -d 'With --each-line: `text` lines, or `jsonl` objects whose fields are template variables' -r -f -a "text\t''
jsonl\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l concurrency -d 'With --each-line: requests in flight' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l rpm -d 'With --each-line: start at most N requests per minute' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l resume -d 'With --each-line: keep the successful lines of an earlier output FILE, run the rest' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l max-cost -d 'Refuse to send (exit 7) when the estimated cost (input + --max-tokens of output) is above USD' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l effort -d 'How hard a reasoning model thinks (the levels a model takes vary; see the README)' -r -f -a "none\t''
minimal\t''
low\t''
medium\t''
high\t''
xhigh\t''
max\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l cache-prompt -d 'Mark the stable prefix (tools, system prompt, examples) for the provider\'s prompt cache; the lifetime only with `=` [default: 5m]' -r -f -a "5m\t''
1h\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l tool -d 'A tool the model may call: a JSON or TOML tool file (repeatable)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l tool-choice -d 'auto, none, required, or a tool\'s NAME (forcing applies to the first turn only) [default: auto]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l max-tool-rounds -d 'With --run-tools: model turns at most, then exit 6' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l tool-timeout -d 'With --run-tools: seconds a tool may run before it is killed' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l tool-result -d 'With -c/--cid: the result of a pending call, as JSON or @FILE (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l json -d 'Machine-readable output (see the README for the shapes)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l dry-run -d 'Print the exact HTTP request (secrets redacted) and send nothing'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -s c -l continue -d 'Continue the most recent conversation (its turns are sent as history)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l cache -d 'Answer identical requests (temperature 0 or unset) from the response cache'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l no-log -d 'Do not write this call to the call log'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l each-line -d 'One request per non-empty line of stdin and -f files; JSON Lines out, in input order'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -s v -l verbose -d 'Request and response diagnostics on stderr (never secrets)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -l run-tools -d 'Run the calls\' commands and send their results back until the model answers'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand complete" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -s f -l file -d 'Add a file\'s text to the input (repeatable, in order)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -s m -l model -d 'Model id or alias [default: config, then LLMPIPE_MODEL, then gpt-4.1-mini]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -s p -l provider -d 'API to use [default: inferred from the model: claude-* is anthropic, else openai]' -r -f -a "openai\t''
anthropic\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -s s -l system -d 'System prompt (replaces a prompt file\'s)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l prompt -d 'Use a versioned prompt file (latest version without @vN)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l var -d 'Template variable for the prompt file (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l prompts-dir -d 'Look for prompt files here first' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -s t -l temperature -d 'Sampling temperature' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l max-tokens -d 'Output token cap, always sent [default: config, then 1024]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l stop -d 'Stop sequence (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l image -d 'Attach an image: a PNG, JPEG, GIF or WebP file, or an http(s) URL (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l timeout -d 'Seconds per attempt: the whole reply, or a stream\'s first event and longest silence [default: 120]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l retries -d 'Retries after the first attempt for transient failures [default: 3]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l fallback -d 'Model to try when the primary fails after its retries (repeatable, in order)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l cid -d 'Continue the conversation with this id (see `llmpipe logs`)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l line-format -d 'With --each-line: `text` lines, or `jsonl` objects whose fields are template variables' -r -f -a "text\t''
jsonl\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l concurrency -d 'With --each-line: requests in flight' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l rpm -d 'With --each-line: start at most N requests per minute' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l resume -d 'With --each-line: keep the successful lines of an earlier output FILE, run the rest' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l max-cost -d 'Refuse to send (exit 7) when the estimated cost (input + --max-tokens of output) is above USD' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l effort -d 'How hard a reasoning model thinks (the levels a model takes vary; see the README)' -r -f -a "none\t''
minimal\t''
low\t''
medium\t''
high\t''
xhigh\t''
max\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l cache-prompt -d 'Mark the stable prefix (tools, system prompt, examples) for the provider\'s prompt cache; the lifetime only with `=` [default: 5m]' -r -f -a "5m\t''
1h\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l tool -d 'A tool the model may call: a JSON or TOML tool file (repeatable)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l tool-choice -d 'auto, none, required, or a tool\'s NAME (forcing applies to the first turn only) [default: auto]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l max-tool-rounds -d 'With --run-tools: model turns at most, then exit 6' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l tool-timeout -d 'With --run-tools: seconds a tool may run before it is killed' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l tool-result -d 'With -c/--cid: the result of a pending call, as JSON or @FILE (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l json -d 'Machine-readable output (see the README for the shapes)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l dry-run -d 'Print the exact HTTP request (secrets redacted) and send nothing'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -s c -l continue -d 'Continue the most recent conversation (its turns are sent as history)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l cache -d 'Answer identical requests (temperature 0 or unset) from the response cache'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l no-log -d 'Do not write this call to the call log'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l each-line -d 'One request per non-empty line of stdin and -f files; JSON Lines out, in input order'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -s v -l verbose -d 'Request and response diagnostics on stderr (never secrets)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -l run-tools -d 'Run the calls\' commands and send their results back until the model answers'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand stream" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -s f -l file -d 'Add a file\'s text to the input (repeatable, in order)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -s m -l model -d 'Model id or alias [default: config, then LLMPIPE_MODEL, then gpt-4.1-mini]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -s p -l provider -d 'API to use [default: inferred from the model: claude-* is anthropic, else openai]' -r -f -a "openai\t''
anthropic\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -s s -l system -d 'System prompt (replaces a prompt file\'s)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l prompt -d 'Use a versioned prompt file (latest version without @vN)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l var -d 'Template variable for the prompt file (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l prompts-dir -d 'Look for prompt files here first' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -s t -l temperature -d 'Sampling temperature' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l max-tokens -d 'Output token cap, always sent [default: config, then 1024]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l stop -d 'Stop sequence (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l image -d 'Attach an image: a PNG, JPEG, GIF or WebP file, or an http(s) URL (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l timeout -d 'Seconds per attempt: the whole reply, or a stream\'s first event and longest silence [default: 120]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l retries -d 'Retries after the first attempt for transient failures [default: 3]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l fallback -d 'Model to try when the primary fails after its retries (repeatable, in order)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l cid -d 'Continue the conversation with this id (see `llmpipe logs`)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l line-format -d 'With --each-line: `text` lines, or `jsonl` objects whose fields are template variables' -r -f -a "text\t''
jsonl\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l concurrency -d 'With --each-line: requests in flight' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l rpm -d 'With --each-line: start at most N requests per minute' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l resume -d 'With --each-line: keep the successful lines of an earlier output FILE, run the rest' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l max-cost -d 'Refuse to send (exit 7) when the estimated cost (input + --max-tokens of output) is above USD' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l effort -d 'How hard a reasoning model thinks (the levels a model takes vary; see the README)' -r -f -a "none\t''
minimal\t''
low\t''
medium\t''
high\t''
xhigh\t''
max\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l cache-prompt -d 'Mark the stable prefix (tools, system prompt, examples) for the provider\'s prompt cache; the lifetime only with `=` [default: 5m]' -r -f -a "5m\t''
1h\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l tool -d 'A tool the model may call: a JSON or TOML tool file (repeatable)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l tool-choice -d 'auto, none, required, or a tool\'s NAME (forcing applies to the first turn only) [default: auto]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l max-tool-rounds -d 'With --run-tools: model turns at most, then exit 6' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l tool-timeout -d 'With --run-tools: seconds a tool may run before it is killed' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l tool-result -d 'With -c/--cid: the result of a pending call, as JSON or @FILE (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l schema -d 'JSON Schema file, or a short field list such as \'name, age int, tags [str]\'' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l repair -d 'Follow-up requests that show the model its invalid reply and the errors' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l json -d 'Machine-readable output (see the README for the shapes)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l dry-run -d 'Print the exact HTTP request (secrets redacted) and send nothing'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -s c -l continue -d 'Continue the most recent conversation (its turns are sent as history)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l cache -d 'Answer identical requests (temperature 0 or unset) from the response cache'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l no-log -d 'Do not write this call to the call log'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l each-line -d 'One request per non-empty line of stdin and -f files; JSON Lines out, in input order'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -s v -l verbose -d 'Request and response diagnostics on stderr (never secrets)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l run-tools -d 'Run the calls\' commands and send their results back until the model answers'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -l pretty -d 'Indent the JSON'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand extract-json" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -s f -l file -d 'Add a file\'s text to the input (repeatable, in order)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -s m -l model -d 'Model id or alias [default: config, then LLMPIPE_MODEL, then gpt-4.1-mini]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -s p -l provider -d 'API to use [default: inferred from the model: claude-* is anthropic, else openai]' -r -f -a "openai\t''
anthropic\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -s s -l system -d 'System prompt (replaces a prompt file\'s)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l prompt -d 'Use a versioned prompt file (latest version without @vN)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l var -d 'Template variable for the prompt file (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l prompts-dir -d 'Look for prompt files here first' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -s t -l temperature -d 'Sampling temperature' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l max-tokens -d 'Output token cap, always sent [default: config, then 1024]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l stop -d 'Stop sequence (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l image -d 'Attach an image: a PNG, JPEG, GIF or WebP file, or an http(s) URL (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l timeout -d 'Seconds per attempt: the whole reply, or a stream\'s first event and longest silence [default: 120]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l retries -d 'Retries after the first attempt for transient failures [default: 3]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l fallback -d 'Model to try when the primary fails after its retries (repeatable, in order)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l cid -d 'Continue the conversation with this id (see `llmpipe logs`)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l line-format -d 'With --each-line: `text` lines, or `jsonl` objects whose fields are template variables' -r -f -a "text\t''
jsonl\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l concurrency -d 'With --each-line: requests in flight' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l rpm -d 'With --each-line: start at most N requests per minute' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l resume -d 'With --each-line: keep the successful lines of an earlier output FILE, run the rest' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l max-cost -d 'Refuse to send (exit 7) when the estimated cost (input + --max-tokens of output) is above USD' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l effort -d 'How hard a reasoning model thinks (the levels a model takes vary; see the README)' -r -f -a "none\t''
minimal\t''
low\t''
medium\t''
high\t''
xhigh\t''
max\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l cache-prompt -d 'Mark the stable prefix (tools, system prompt, examples) for the provider\'s prompt cache; the lifetime only with `=` [default: 5m]' -r -f -a "5m\t''
1h\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l tool -d 'A tool the model may call: a JSON or TOML tool file (repeatable)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l tool-choice -d 'auto, none, required, or a tool\'s NAME (forcing applies to the first turn only) [default: auto]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l max-tool-rounds -d 'With --run-tools: model turns at most, then exit 6' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l tool-timeout -d 'With --run-tools: seconds a tool may run before it is killed' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l tool-result -d 'With -c/--cid: the result of a pending call, as JSON or @FILE (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l labels -d 'The label set, comma-separated (or the prompt file\'s labels)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l json -d 'Machine-readable output (see the README for the shapes)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l dry-run -d 'Print the exact HTTP request (secrets redacted) and send nothing'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -s c -l continue -d 'Continue the most recent conversation (its turns are sent as history)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l cache -d 'Answer identical requests (temperature 0 or unset) from the response cache'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l no-log -d 'Do not write this call to the call log'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l each-line -d 'One request per non-empty line of stdin and -f files; JSON Lines out, in input order'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -s v -l verbose -d 'Request and response diagnostics on stderr (never secrets)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -l run-tools -d 'Run the calls\' commands and send their results back until the model answers'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand classify" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -s f -l file -d 'Add a file\'s text (repeatable); with two or more, each source is counted on its own' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -s m -l model -d 'Model id or alias: picks the tokenizer [default: config, then LLMPIPE_MODEL, then gpt-4.1-mini]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -s p -l provider -d 'API the model belongs to [default: inferred from the model]' -r -f -a "openai\t''
anthropic\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -l encoding -d 'Count with this tiktoken encoding, whatever the model' -r -f -a "o200k_base\t''
o200k_harmony\t''
cl100k_base\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -s s -l system -d 'System prompt (counted with --chat and --exact)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -l prompt -d 'Count the request a prompt file makes of the input (system, few-shot turns, template)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -l var -d 'Template variable for the prompt file (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -l prompts-dir -d 'Look for prompt files here first' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -s j -l threads -d 'Counting threads [default: one per core]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -l timeout -d 'Seconds for the --exact request [default: 120]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -l chat -d 'Count the request as the API sees it: system prompt, user message, per-message overhead'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -l exact -d 'Ask the provider\'s token-counting endpoint where the offline count is an estimate (Anthropic; needs the key)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -l json -d 'Machine-readable output: {"model","encoding","tokens","exact","method"}'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -s v -l verbose -d 'Diagnostics on stderr'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand count-tokens" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -s f -l file -d 'Add a file\'s text to the input (repeatable, in order)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -s m -l model -d 'Model id or alias [default: config, then LLMPIPE_MODEL, then gpt-4.1-mini]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -s p -l provider -d 'API to use [default: inferred from the model]' -r -f -a "openai\t''
anthropic\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -s s -l system -d 'System prompt' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -l prompt -d 'Price the request a prompt file makes of the input (system, few-shot turns, template)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -l var -d 'Template variable for the prompt file (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -l prompts-dir -d 'Look for prompt files here first' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -l max-tokens -d 'Output token cap of the request [default: config, then 1024]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -l output-tokens -d 'Output tokens to price [default: --max-tokens]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -l compare -d 'Price the request for these models too, sorted by total (comma-separated, or `all`)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -l effort -d 'The --effort the request would carry: the output cap counted is the one that would be sent (a Claude thinking budget raises it); a model that does not take the level is exit 2 (with --compare: left out, with a note)' -r -f -a "none\t''
minimal\t''
low\t''
medium\t''
high\t''
xhigh\t''
max\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -l timeout -d 'Seconds for the --exact request [default: 120]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -l exact -d 'Count Anthropic input with the provider\'s token-counting endpoint (needs the key)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -l json -d 'Machine-readable output (an array with --compare)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -s v -l verbose -d 'Diagnostics on stderr'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand estimate-cost" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand models; and not __fish_seen_subcommand_from update" -l json -d 'Machine-readable output: an array of objects'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand models; and not __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand models; and not __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand models; and not __fish_seen_subcommand_from update" -f -a "update" -d 'Download the genai-prices database\'s current data file into llmpipe\'s data directory (used from then on instead of the bundled copy)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand models; and __fish_seen_subcommand_from update" -l from -d 'Where to get the data: an http(s) URL (a mirror) or a local file [default: the database\'s published feed]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand models; and __fish_seen_subcommand_from update" -l timeout -d 'Seconds per attempt' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand models; and __fish_seen_subcommand_from update" -l retries -d 'Retries after the first attempt for retryable failures' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand models; and __fish_seen_subcommand_from update" -l json -d 'Machine-readable output: an array of objects'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand models; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand models; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and not __fish_seen_subcommand_from list show render" -l json -d 'Machine-readable output'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and not __fish_seen_subcommand_from list show render" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and not __fish_seen_subcommand_from list show render" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and not __fish_seen_subcommand_from list show render" -f -a "list" -d 'Name, latest version, versions and description of every prompt found'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and not __fish_seen_subcommand_from list show render" -f -a "show" -d 'Print a prompt file'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and not __fish_seen_subcommand_from list show render" -f -a "render" -d 'Print the messages that would be sent'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from list" -l prompts-dir -d 'Look for prompt files here first' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable output'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from show" -l prompts-dir -d 'Look for prompt files here first' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from show" -l json -d 'Machine-readable output'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from render" -s f -l file -d 'Add a file\'s text to the input (repeatable)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from render" -l var -d 'Template variable (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from render" -l prompts-dir -d 'Look for prompt files here first' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from render" -l json -d 'Machine-readable output'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from render" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand prompts; and __fish_seen_subcommand_from render" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and not __fish_seen_subcommand_from cost" -s n -l count -d 'How many calls to show (the most recent)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and not __fish_seen_subcommand_from cost" -s m -l model -d 'Only calls to this model (as requested or as reported)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and not __fish_seen_subcommand_from cost" -l prompt -d 'Only calls with this prompt file (`name` or `name@vN`)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and not __fish_seen_subcommand_from cost" -l since -d 'Only calls since a date (2026-11-01) or an age (30m, 2h, 7d, 1w)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and not __fish_seen_subcommand_from cost" -l conversation -d 'Only the calls of one conversation' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and not __fish_seen_subcommand_from cost" -s q -l query -d 'Full-text search in system prompts, inputs and replies' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and not __fish_seen_subcommand_from cost" -l json -d 'Machine-readable output'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and not __fish_seen_subcommand_from cost" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and not __fish_seen_subcommand_from cost" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and not __fish_seen_subcommand_from cost" -f -a "cost" -d 'Sum of cost and tokens, grouped'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and __fish_seen_subcommand_from cost" -l by -d 'Group by model, prompt or day' -r -f -a "model\t''
prompt\t''
day\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and __fish_seen_subcommand_from cost" -s m -l model -d 'Only calls to this model (as requested or as reported)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and __fish_seen_subcommand_from cost" -l prompt -d 'Only calls with this prompt file (`name` or `name@vN`)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and __fish_seen_subcommand_from cost" -l since -d 'Only calls since a date (2026-11-01) or an age (30m, 2h, 7d, 1w)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and __fish_seen_subcommand_from cost" -l conversation -d 'Only the calls of one conversation' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and __fish_seen_subcommand_from cost" -s q -l query -d 'Full-text search in system prompts, inputs and replies' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and __fish_seen_subcommand_from cost" -l json -d 'Machine-readable output'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and __fish_seen_subcommand_from cost" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand logs; and __fish_seen_subcommand_from cost" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand completions" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand completions" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l prompt -d 'Prompt file version to score (repeatable; the first is the baseline)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -s m -l model -d 'Model to score each prompt with (repeatable) [default: the prompt file\'s, config, then LLMPIPE_MODEL]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -s p -l provider -d 'API to use [default: inferred from each model]' -r -f -a "openai\t''
anthropic\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l data -d 'Labelled data: JSON Lines, each an object with template fields, `input` and `expected` (`-`: stdin)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l task -d 'What is asked [default: classify with the prompt\'s labels, extract-json with its schema, else complete]' -r -f -a "classify\t''
extract-json\t''
complete\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l metric -d 'How an answer is scored [default: json-equal for extract-json, contains for complete]' -r -f -a "json-equal\t''
json-subset\t''
contains\t''
exact\t''
regex\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l min-accuracy -d 'Gate: every variant but the baseline (or the only one) must reach this accuracy (0.9 or 90%)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l max-regression -d 'Gate: no variant\'s accuracy may fall more than this below the baseline\'s (0.05 or 5%)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l report -d 'Also write the report as Markdown (for a pull-request comment)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l out -d 'Also write every item\'s result, one JSON line per variant and item' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l var -d 'Template variable for every item (an item\'s own fields override it; repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l prompts-dir -d 'Look for prompt files here first' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -s t -l temperature -d 'Sampling temperature [default: the prompt file\'s]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l max-tokens -d 'Output token cap, always sent [default: the prompt file\'s, config, then 1024]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l repair -d 'extract-json: follow-up requests that show the model its invalid reply' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l concurrency -d 'Requests in flight' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l rpm -d 'Start at most N requests per minute' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l timeout -d 'Seconds per attempt [default: 120]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l retries -d 'Retries after the first attempt for transient failures [default: 3]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l max-cost -d 'Refuse to start (exit 7) when the whole eval could cost more than USD (worst case)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l effort -d 'How hard a reasoning model thinks, for every variant (each model must take the level)' -r -f -a "none\t''
minimal\t''
low\t''
medium\t''
high\t''
xhigh\t''
max\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l cache-prompt -d 'Mark the stable prefix (system prompt, examples) for the provider\'s prompt cache; the lifetime only with `=` [default: 5m]' -r -f -a "5m\t''
1h\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l cache -d 'Answer identical requests from the response cache (an unchanged variant costs nothing)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l no-log -d 'Do not write the calls to the call log'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -l json -d 'One report object: variants, flips, failures, gates'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -s v -l verbose -d 'Request and response diagnostics on stderr (never secrets)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand eval" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and not __fish_seen_subcommand_from submit status results cancel list" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and not __fish_seen_subcommand_from submit status results cancel list" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and not __fish_seen_subcommand_from submit status results cancel list" -f -a "submit" -d 'Submit one request per input line (read as --each-line reads them) as a batch job'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and not __fish_seen_subcommand_from submit status results cancel list" -f -a "status" -d 'The job\'s state and counts [ID: default the latest job]'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and not __fish_seen_subcommand_from submit status results cancel list" -f -a "results" -d 'The results as JSON Lines, in input order, as an --each-line run writes them'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and not __fish_seen_subcommand_from submit status results cancel list" -f -a "cancel" -d 'Cancel the job (items not yet run end as `canceled`)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and not __fish_seen_subcommand_from submit status results cancel list" -f -a "list" -d 'The jobs submitted from here, newest first'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -s f -l file -d 'Add a file\'s text to the input (repeatable, in order)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -s m -l model -d 'Model id or alias [default: config, then LLMPIPE_MODEL, then gpt-4.1-mini]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -s p -l provider -d 'API to use [default: inferred from the model: claude-* is anthropic, else openai]' -r -f -a "openai\t''
anthropic\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -s s -l system -d 'System prompt (replaces a prompt file\'s)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l prompt -d 'Use a versioned prompt file (latest version without @vN)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l var -d 'Template variable for the prompt file (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l prompts-dir -d 'Look for prompt files here first' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -s t -l temperature -d 'Sampling temperature' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l max-tokens -d 'Output token cap, always sent [default: config, then 1024]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l stop -d 'Stop sequence (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l image -d 'Attach an image: a PNG, JPEG, GIF or WebP file, or an http(s) URL (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l timeout -d 'Seconds per attempt: the whole reply, or a stream\'s first event and longest silence [default: 120]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l retries -d 'Retries after the first attempt for transient failures [default: 3]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l effort -d 'How hard a reasoning model thinks (the levels a model takes vary; see the README)' -r -f -a "none\t''
minimal\t''
low\t''
medium\t''
high\t''
xhigh\t''
max\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l cache-prompt -d 'Mark the stable prefix (tools, system prompt, examples) for the provider\'s prompt cache; the lifetime only with `=` [default: 5m]' -r -f -a "5m\t''
1h\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l tool -d 'A tool the model may call: a JSON or TOML tool file (repeatable)' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l tool-choice -d 'auto, none, required, or a tool\'s NAME (forcing applies to the first turn only) [default: auto]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l max-tool-rounds -d 'With --run-tools: model turns at most, then exit 6' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l tool-timeout -d 'With --run-tools: seconds a tool may run before it is killed' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l tool-result -d 'With -c/--cid: the result of a pending call, as JSON or @FILE (repeatable)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l task -d 'What each item asks for: the text, a JSON value (--schema), or a label (--labels)' -r -f -a "complete\t''
extract-json\t''
classify\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l schema -d 'With --task extract-json: JSON Schema file, or a short field list' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l labels -d 'With --task classify: the label set, comma-separated (or the prompt file\'s labels)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l batch-size -d 'Requests per provider batch at most [default: the provider\'s limit, 50,000 OpenAI, 100,000 Anthropic]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l poll-interval -d 'With --wait: seconds between polls [default: 5 s, growing to 60 s]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l resume -d 'Keep the successful lines of an earlier output FILE (live or batch); submit only the rest' -r -F
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l line-format -d 'Items are `text` lines, or `jsonl` objects whose fields are template variables' -r -f -a "text\t''
jsonl\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l cid -d 'Continue the conversation with this id (see `llmpipe logs`)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l fallback -d 'Model to try when the primary fails after its retries (repeatable, in order)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l concurrency -d 'With --each-line: requests in flight' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l rpm -d 'With --each-line: start at most N requests per minute' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l max-cost -d 'Refuse to submit (exit 7) when the whole job could cost more than USD at batch prices' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -s v -l verbose -d 'Request and response diagnostics on stderr (never secrets)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l run-tools -d 'Run the calls\' commands and send their results back until the model answers'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l wait -d 'Wait for the job to end and write its results'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l each-line -d 'One request per non-empty line of stdin and -f files; JSON Lines out, in input order'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -s c -l continue -d 'Continue the most recent conversation (its turns are sent as history)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l cache -d 'Answer identical requests (temperature 0 or unset) from the response cache'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l no-log -d 'Do not write this call to the call log'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l dry-run -d 'Print the request lines that would be uploaded; send nothing'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -l json -d 'Machine-readable output: {"id","provider","provider_batch_ids","items","submitted_at"}'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from submit" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from status" -l timeout -d 'Seconds per HTTP attempt [default: 120]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from status" -l retries -d 'Retries after the first attempt for transient failures [default: 3]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from status" -l json -d 'Machine-readable output (see the README for the shapes)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from status" -s v -l verbose -d 'Request and response diagnostics on stderr (never secrets)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from results" -l timeout -d 'Seconds per HTTP attempt [default: 120]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from results" -l retries -d 'Retries after the first attempt for transient failures [default: 3]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from results" -l poll-interval -d 'With --wait: seconds between polls [default: 5 s, growing to 60 s]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from results" -l json -d 'Machine-readable output (see the README for the shapes)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from results" -s v -l verbose -d 'Request and response diagnostics on stderr (never secrets)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from results" -l wait -d 'Wait until the job has ended, then write the results'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from results" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from results" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from cancel" -l timeout -d 'Seconds per HTTP attempt [default: 120]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from cancel" -l retries -d 'Retries after the first attempt for transient failures [default: 3]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from cancel" -l json -d 'Machine-readable output (see the README for the shapes)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from cancel" -s v -l verbose -d 'Request and response diagnostics on stderr (never secrets)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from cancel" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from cancel" -s V -l version -d 'Print version'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from list" -s n -l count -d 'How many jobs to show (the most recent)' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from list" -s p -l provider -d 'List this provider\'s newest batches instead (at most 100; any machine, needs the key)' -r -f -a "openai\t''
anthropic\t''"
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from list" -l timeout -d 'With -p: seconds per HTTP attempt [default: 120]' -r
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable output (see the README for the shapes)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Request and response diagnostics on stderr (never secrets)'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c llmpipe -n "__fish_llmpipe_using_subcommand batch; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
