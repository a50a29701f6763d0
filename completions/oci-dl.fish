# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_oci_dl_global_optspecs
    string join \n v/verbose q/quiet progress= plain-http insecure ca-file= u/username= registry-config= password-stdin cache= no-cache offline registries-conf= mirror= retries= resolve= timeout= deadline= h/help V/version
end

function __fish_oci_dl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_oci_dl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_oci_dl_using_subcommand
    set -l cmd (__fish_oci_dl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c oci-dl -n "__fish_oci_dl_needs_command" -l progress -d 'Progress display on stderr' -r -f -a "auto\t'Bars at a terminal, plain lines elsewhere'
always\t'Bars even when stderr is not a terminal'
never\t'Plain lines'
json\t'One JSON event per line on stderr'"
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l ca-file -d 'Trust the PEM root certificates in FILE, besides the system\'s' -r -F
complete -c oci-dl -n "__fish_oci_dl_needs_command" -s u -l username -d 'User name for the registry' -r
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l registry-config -d 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman\'s, Docker\'s)' -r -F
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l cache -d 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]' -r -F
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l registries-conf -d 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]' -r -F
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l mirror -d 'Try HOST[:PORT][/NAMESPACE] before the reference\'s registry, for any pull; repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l retries -d 'Retries of a failed request or transfer (with backoff), each resuming where it stopped' -r
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l resolve -d 'Connect HOST:PORT to ADDR instead of asking DNS (as curl\'s --resolve); repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l timeout -d 'Seconds a connection may deliver nothing before it counts as stalled' -r
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l deadline -d 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all' -r
complete -c oci-dl -n "__fish_oci_dl_needs_command" -s v -l verbose -d 'More detail on stderr; -vv everything'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -s q -l quiet -d 'Print only errors'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l plain-http -d 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l insecure -d 'Skip TLS certificate verification'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l password-stdin -d 'Read the password or token from standard input'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l no-cache -d 'Use no blob cache'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -l offline -d 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -s V -l version -d 'Print version'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -f -a "pull" -d 'Download the layers of an artifact, each saved under its title'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -f -a "manifest" -d 'Print a manifest exactly as the registry serves it'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -f -a "blob" -d 'Download one blob by digest, to a file or stdout'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -f -a "digest" -d 'Print the digest a tag resolves to (of the index, or with --platform of one manifest)'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -f -a "referrers" -d 'List what is attached to a manifest: SBOMs, signatures, attestations'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -f -a "tags" -d 'List a repository\'s tags, one per line'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -f -a "cache" -d 'Manage the blob cache'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c oci-dl -n "__fish_oci_dl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l platform -d 'Platform to pick from an index [default: this machine\'s]' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -s g -l glob -d 'Select names matching PATTERN; any of several' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -s r -l regex -d 'Select names matching RE; all of several' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l include -d 'Names must hold one of these; each use a group' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l exclude -d 'Names must contain none of these keywords' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l media-type -d 'Select layers by media type (globs allowed)' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -s o -l output -d 'Directory to write into, or - for stdout' -r -f -a "(__fish_complete_directories)"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l overwrite -d 'When a file exists with other content' -r -f -a "error\t''
skip\t''
force\t''
prompt\t''"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -s j -l jobs -l concurrency -d 'Connections at once' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l format -d 'What to write: files, an OCI image layout, or a tar of one' -r -f -a "files\t'Each layer as a file (or unpacked), the default'
oci-layout\t'An OCI image layout directory: oci-layout, index.json, blobs/'
oci-archive\t'The same layout in one tar file'"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l extract-to -d 'Unpack into DIR instead of the output directory' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l max-unpacked-size -d 'Refuse an archive that unpacks to more than SIZE (e.g. 10G) [default: 100 × the archive, at least 16 MiB, at most 64 GiB]' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l verify-key -d 'Refuse unless signed with this public key' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l referrer -d 'Also pull the newest referrer of artifact TYPE' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l progress -d 'Progress display on stderr' -r -f -a "auto\t'Bars at a terminal, plain lines elsewhere'
always\t'Bars even when stderr is not a terminal'
never\t'Plain lines'
json\t'One JSON event per line on stderr'"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l ca-file -d 'Trust the PEM root certificates in FILE, besides the system\'s' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -s u -l username -d 'User name for the registry' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l registry-config -d 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman\'s, Docker\'s)' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l cache -d 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l registries-conf -d 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l mirror -d 'Try HOST[:PORT][/NAMESPACE] before the reference\'s registry, for any pull; repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l retries -d 'Retries of a failed request or transfer (with backoff), each resuming where it stopped' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l resolve -d 'Connect HOST:PORT to ADDR instead of asking DNS (as curl\'s --resolve); repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l timeout -d 'Seconds a connection may deliver nothing before it counts as stalled' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l deadline -d 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l oci-layout -d 'Read REF as an OCI image layout on this machine, not a registry'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l case-sensitive -d 'Match names and keywords case-sensitively'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l flatten -d 'Save each layer under the last component of its title'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l json -d 'Print one JSON document about the pull on stdout'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l dry-run -d 'List what would be pulled; write nothing'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -s x -l extract -d 'Unpack archives, told by their bytes'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l keep-archive -d 'Keep downloaded archives next to what was unpacked from them'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l no-unpack -d 'Keep layers that oras marked for unpacking (pushed directories) as archives'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l no-subject -d 'With --referrer: pull only the referrer\'s files, not the subject\'s'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l include-referrers -d 'With --format oci-layout|oci-archive: also store what is attached'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -s v -l verbose -d 'More detail on stderr; -vv everything'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -s q -l quiet -d 'Print only errors'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l plain-http -d 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l insecure -d 'Skip TLS certificate verification'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l password-stdin -d 'Read the password or token from standard input'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l no-cache -d 'Use no blob cache'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -l offline -d 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand pull" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l platform -d 'Resolve an index to this platform\'s manifest (OS/ARCH[/VARIANT][:OS_VERSION])' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -s o -l output -d 'Write to FILE instead of stdout' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l progress -d 'Progress display on stderr' -r -f -a "auto\t'Bars at a terminal, plain lines elsewhere'
always\t'Bars even when stderr is not a terminal'
never\t'Plain lines'
json\t'One JSON event per line on stderr'"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l ca-file -d 'Trust the PEM root certificates in FILE, besides the system\'s' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -s u -l username -d 'User name for the registry' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l registry-config -d 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman\'s, Docker\'s)' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l cache -d 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l registries-conf -d 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l mirror -d 'Try HOST[:PORT][/NAMESPACE] before the reference\'s registry, for any pull; repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l retries -d 'Retries of a failed request or transfer (with backoff), each resuming where it stopped' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l resolve -d 'Connect HOST:PORT to ADDR instead of asking DNS (as curl\'s --resolve); repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l timeout -d 'Seconds a connection may deliver nothing before it counts as stalled' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l deadline -d 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l descriptor -d 'Print the resolved descriptor as JSON instead of the body: the index entry as sent, or the manifest\'s mediaType, digest and size'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -s v -l verbose -d 'More detail on stderr; -vv everything'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -s q -l quiet -d 'Print only errors'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l plain-http -d 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l insecure -d 'Skip TLS certificate verification'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l password-stdin -d 'Read the password or token from standard input'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l no-cache -d 'Use no blob cache'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -l offline -d 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand manifest" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -s o -l output -d 'Write to FILE, into an existing DIR under the digest\'s hex (as `pull -o`), or `-` for stdout [default: the digest\'s hex in the current directory]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l overwrite -d 'When the file exists with other content [default: prompt at a terminal, else error]' -r -f -a "error\t''
skip\t''
force\t''
prompt\t''"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l progress -d 'Progress display on stderr' -r -f -a "auto\t'Bars at a terminal, plain lines elsewhere'
always\t'Bars even when stderr is not a terminal'
never\t'Plain lines'
json\t'One JSON event per line on stderr'"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l ca-file -d 'Trust the PEM root certificates in FILE, besides the system\'s' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -s u -l username -d 'User name for the registry' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l registry-config -d 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman\'s, Docker\'s)' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l cache -d 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l registries-conf -d 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l mirror -d 'Try HOST[:PORT][/NAMESPACE] before the reference\'s registry, for any pull; repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l retries -d 'Retries of a failed request or transfer (with backoff), each resuming where it stopped' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l resolve -d 'Connect HOST:PORT to ADDR instead of asking DNS (as curl\'s --resolve); repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l timeout -d 'Seconds a connection may deliver nothing before it counts as stalled' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l deadline -d 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -s v -l verbose -d 'More detail on stderr; -vv everything'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -s q -l quiet -d 'Print only errors'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l plain-http -d 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l insecure -d 'Skip TLS certificate verification'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l password-stdin -d 'Read the password or token from standard input'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l no-cache -d 'Use no blob cache'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -l offline -d 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand blob" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l platform -d 'The digest of this platform\'s manifest in an index (OS/ARCH[/VARIANT][:OS_VERSION]), instead of the index\'s own' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l progress -d 'Progress display on stderr' -r -f -a "auto\t'Bars at a terminal, plain lines elsewhere'
always\t'Bars even when stderr is not a terminal'
never\t'Plain lines'
json\t'One JSON event per line on stderr'"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l ca-file -d 'Trust the PEM root certificates in FILE, besides the system\'s' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -s u -l username -d 'User name for the registry' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l registry-config -d 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman\'s, Docker\'s)' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l cache -d 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l registries-conf -d 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l mirror -d 'Try HOST[:PORT][/NAMESPACE] before the reference\'s registry, for any pull; repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l retries -d 'Retries of a failed request or transfer (with backoff), each resuming where it stopped' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l resolve -d 'Connect HOST:PORT to ADDR instead of asking DNS (as curl\'s --resolve); repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l timeout -d 'Seconds a connection may deliver nothing before it counts as stalled' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l deadline -d 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -s v -l verbose -d 'More detail on stderr; -vv everything'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -s q -l quiet -d 'Print only errors'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l plain-http -d 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l insecure -d 'Skip TLS certificate verification'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l password-stdin -d 'Read the password or token from standard input'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l no-cache -d 'Use no blob cache'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -l offline -d 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand digest" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l platform -d 'List the referrers of this platform\'s manifest instead of the index\'s' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l progress -d 'Progress display on stderr' -r -f -a "auto\t'Bars at a terminal, plain lines elsewhere'
always\t'Bars even when stderr is not a terminal'
never\t'Plain lines'
json\t'One JSON event per line on stderr'"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l ca-file -d 'Trust the PEM root certificates in FILE, besides the system\'s' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -s u -l username -d 'User name for the registry' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l registry-config -d 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman\'s, Docker\'s)' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l cache -d 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l registries-conf -d 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l mirror -d 'Try HOST[:PORT][/NAMESPACE] before the reference\'s registry, for any pull; repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l retries -d 'Retries of a failed request or transfer (with backoff), each resuming where it stopped' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l resolve -d 'Connect HOST:PORT to ADDR instead of asking DNS (as curl\'s --resolve); repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l timeout -d 'Seconds a connection may deliver nothing before it counts as stalled' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l deadline -d 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l json -d 'Print one JSON document: subject, source (api or tag) and the descriptors as listed'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -s v -l verbose -d 'More detail on stderr; -vv everything'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -s q -l quiet -d 'Print only errors'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l plain-http -d 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l insecure -d 'Skip TLS certificate verification'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l password-stdin -d 'Read the password or token from standard input'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l no-cache -d 'Use no blob cache'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -l offline -d 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand referrers" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l progress -d 'Progress display on stderr' -r -f -a "auto\t'Bars at a terminal, plain lines elsewhere'
always\t'Bars even when stderr is not a terminal'
never\t'Plain lines'
json\t'One JSON event per line on stderr'"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l ca-file -d 'Trust the PEM root certificates in FILE, besides the system\'s' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -s u -l username -d 'User name for the registry' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l registry-config -d 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman\'s, Docker\'s)' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l cache -d 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l registries-conf -d 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l mirror -d 'Try HOST[:PORT][/NAMESPACE] before the reference\'s registry, for any pull; repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l retries -d 'Retries of a failed request or transfer (with backoff), each resuming where it stopped' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l resolve -d 'Connect HOST:PORT to ADDR instead of asking DNS (as curl\'s --resolve); repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l timeout -d 'Seconds a connection may deliver nothing before it counts as stalled' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l deadline -d 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l json -d 'Print a JSON array instead'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -s v -l verbose -d 'More detail on stderr; -vv everything'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -s q -l quiet -d 'Print only errors'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l plain-http -d 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l insecure -d 'Skip TLS certificate verification'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l password-stdin -d 'Read the password or token from standard input'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l no-cache -d 'Use no blob cache'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -l offline -d 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand tags" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l progress -d 'Progress display on stderr' -r -f -a "auto\t'Bars at a terminal, plain lines elsewhere'
always\t'Bars even when stderr is not a terminal'
never\t'Plain lines'
json\t'One JSON event per line on stderr'"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l ca-file -d 'Trust the PEM root certificates in FILE, besides the system\'s' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -s u -l username -d 'User name for the registry' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l registry-config -d 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman\'s, Docker\'s)' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l cache -d 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l registries-conf -d 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l mirror -d 'Try HOST[:PORT][/NAMESPACE] before the reference\'s registry, for any pull; repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l retries -d 'Retries of a failed request or transfer (with backoff), each resuming where it stopped' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l resolve -d 'Connect HOST:PORT to ADDR instead of asking DNS (as curl\'s --resolve); repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l timeout -d 'Seconds a connection may deliver nothing before it counts as stalled' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l deadline -d 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -s v -l verbose -d 'More detail on stderr; -vv everything'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -s q -l quiet -d 'Print only errors'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l plain-http -d 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l insecure -d 'Skip TLS certificate verification'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l password-stdin -d 'Read the password or token from standard input'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l no-cache -d 'Use no blob cache'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -l offline -d 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -f -a "dir" -d 'Print the cache directory'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -f -a "prune" -d 'Delete least recently used blobs until the cache holds at most SIZE'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and not __fish_seen_subcommand_from dir prune help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l progress -d 'Progress display on stderr' -r -f -a "auto\t'Bars at a terminal, plain lines elsewhere'
always\t'Bars even when stderr is not a terminal'
never\t'Plain lines'
json\t'One JSON event per line on stderr'"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l ca-file -d 'Trust the PEM root certificates in FILE, besides the system\'s' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -s u -l username -d 'User name for the registry' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l registry-config -d 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman\'s, Docker\'s)' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l cache -d 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l registries-conf -d 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l mirror -d 'Try HOST[:PORT][/NAMESPACE] before the reference\'s registry, for any pull; repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l retries -d 'Retries of a failed request or transfer (with backoff), each resuming where it stopped' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l resolve -d 'Connect HOST:PORT to ADDR instead of asking DNS (as curl\'s --resolve); repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l timeout -d 'Seconds a connection may deliver nothing before it counts as stalled' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l deadline -d 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -s v -l verbose -d 'More detail on stderr; -vv everything'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -s q -l quiet -d 'Print only errors'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l plain-http -d 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l insecure -d 'Skip TLS certificate verification'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l password-stdin -d 'Read the password or token from standard input'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l no-cache -d 'Use no blob cache'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -l offline -d 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from dir" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l max-size -d 'Like 10G, 500M or 2048 (bytes)' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l progress -d 'Progress display on stderr' -r -f -a "auto\t'Bars at a terminal, plain lines elsewhere'
always\t'Bars even when stderr is not a terminal'
never\t'Plain lines'
json\t'One JSON event per line on stderr'"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l ca-file -d 'Trust the PEM root certificates in FILE, besides the system\'s' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -s u -l username -d 'User name for the registry' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l registry-config -d 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman\'s, Docker\'s)' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l cache -d 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l registries-conf -d 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l mirror -d 'Try HOST[:PORT][/NAMESPACE] before the reference\'s registry, for any pull; repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l retries -d 'Retries of a failed request or transfer (with backoff), each resuming where it stopped' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l resolve -d 'Connect HOST:PORT to ADDR instead of asking DNS (as curl\'s --resolve); repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l timeout -d 'Seconds a connection may deliver nothing before it counts as stalled' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l deadline -d 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -s v -l verbose -d 'More detail on stderr; -vv everything'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -s q -l quiet -d 'Print only errors'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l plain-http -d 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l insecure -d 'Skip TLS certificate verification'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l password-stdin -d 'Read the password or token from standard input'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l no-cache -d 'Use no blob cache'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -l offline -d 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "dir" -d 'Print the cache directory'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Delete least recently used blobs until the cache holds at most SIZE'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l progress -d 'Progress display on stderr' -r -f -a "auto\t'Bars at a terminal, plain lines elsewhere'
always\t'Bars even when stderr is not a terminal'
never\t'Plain lines'
json\t'One JSON event per line on stderr'"
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l ca-file -d 'Trust the PEM root certificates in FILE, besides the system\'s' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -s u -l username -d 'User name for the registry' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l registry-config -d 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman\'s, Docker\'s)' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l cache -d 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l registries-conf -d 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]' -r -F
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l mirror -d 'Try HOST[:PORT][/NAMESPACE] before the reference\'s registry, for any pull; repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l retries -d 'Retries of a failed request or transfer (with backoff), each resuming where it stopped' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l resolve -d 'Connect HOST:PORT to ADDR instead of asking DNS (as curl\'s --resolve); repeatable' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l timeout -d 'Seconds a connection may deliver nothing before it counts as stalled' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l deadline -d 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all' -r
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -s v -l verbose -d 'More detail on stderr; -vv everything'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -s q -l quiet -d 'Print only errors'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l plain-http -d 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l insecure -d 'Skip TLS certificate verification'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l password-stdin -d 'Read the password or token from standard input'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l no-cache -d 'Use no blob cache'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -l offline -d 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand help; and not __fish_seen_subcommand_from pull manifest blob digest referrers tags cache completions help" -f -a "pull" -d 'Download the layers of an artifact, each saved under its title'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand help; and not __fish_seen_subcommand_from pull manifest blob digest referrers tags cache completions help" -f -a "manifest" -d 'Print a manifest exactly as the registry serves it'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand help; and not __fish_seen_subcommand_from pull manifest blob digest referrers tags cache completions help" -f -a "blob" -d 'Download one blob by digest, to a file or stdout'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand help; and not __fish_seen_subcommand_from pull manifest blob digest referrers tags cache completions help" -f -a "digest" -d 'Print the digest a tag resolves to (of the index, or with --platform of one manifest)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand help; and not __fish_seen_subcommand_from pull manifest blob digest referrers tags cache completions help" -f -a "referrers" -d 'List what is attached to a manifest: SBOMs, signatures, attestations'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand help; and not __fish_seen_subcommand_from pull manifest blob digest referrers tags cache completions help" -f -a "tags" -d 'List a repository\'s tags, one per line'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand help; and not __fish_seen_subcommand_from pull manifest blob digest referrers tags cache completions help" -f -a "cache" -d 'Manage the blob cache'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand help; and not __fish_seen_subcommand_from pull manifest blob digest referrers tags cache completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand help; and not __fish_seen_subcommand_from pull manifest blob digest referrers tags cache completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "dir" -d 'Print the cache directory'
complete -c oci-dl -n "__fish_oci_dl_using_subcommand help; and __fish_seen_subcommand_from cache" -f -a "prune" -d 'Delete least recently used blobs until the cache holds at most SIZE'
