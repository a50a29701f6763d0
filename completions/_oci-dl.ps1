
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'oci-dl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'oci-dl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'oci-dl' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress display on stderr')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the PEM root certificates in FILE, besides the system''s')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--registry-config', '--registry-config', [CompletionResultType]::ParameterName, 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)')
            [CompletionResult]::new('--cache', '--cache', [CompletionResultType]::ParameterName, 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]')
            [CompletionResult]::new('--registries-conf', '--registries-conf', [CompletionResultType]::ParameterName, 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]')
            [CompletionResult]::new('--mirror', '--mirror', [CompletionResultType]::ParameterName, 'Try HOST[:PORT][/NAMESPACE] before the reference''s registry, for any pull; repeatable')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries of a failed request or transfer (with backoff), each resuming where it stopped')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds a connection may deliver nothing before it counts as stalled')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--plain-http', '--plain-http', [CompletionResultType]::ParameterName, 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Skip TLS certificate verification')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password or token from standard input')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Use no blob cache')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('pull', 'pull', [CompletionResultType]::ParameterValue, 'Download the layers of an artifact, each saved under its title')
            [CompletionResult]::new('manifest', 'manifest', [CompletionResultType]::ParameterValue, 'Print a manifest exactly as the registry serves it')
            [CompletionResult]::new('blob', 'blob', [CompletionResultType]::ParameterValue, 'Download one blob by digest, to a file or stdout')
            [CompletionResult]::new('digest', 'digest', [CompletionResultType]::ParameterValue, 'Print the digest a tag resolves to (of the index, or with --platform of one manifest)')
            [CompletionResult]::new('referrers', 'referrers', [CompletionResultType]::ParameterValue, 'List what is attached to a manifest: SBOMs, signatures, attestations')
            [CompletionResult]::new('tags', 'tags', [CompletionResultType]::ParameterValue, 'List a repository''s tags, one per line')
            [CompletionResult]::new('cache', 'cache', [CompletionResultType]::ParameterValue, 'Manage the blob cache')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'oci-dl;pull' {
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Platform to pick from an index [default: this machine''s]')
            [CompletionResult]::new('-g', '-g', [CompletionResultType]::ParameterName, 'Select names matching PATTERN; any of several')
            [CompletionResult]::new('--glob', '--glob', [CompletionResultType]::ParameterName, 'Select names matching PATTERN; any of several')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Select names matching RE; all of several')
            [CompletionResult]::new('--regex', '--regex', [CompletionResultType]::ParameterName, 'Select names matching RE; all of several')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Names must hold one of these; each use a group')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Names must contain none of these keywords')
            [CompletionResult]::new('--media-type', '--media-type', [CompletionResultType]::ParameterName, 'Select layers by media type (globs allowed)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Directory to write into, or - for stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Directory to write into, or - for stdout')
            [CompletionResult]::new('--overwrite', '--overwrite', [CompletionResultType]::ParameterName, 'When a file exists with other content')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Connections at once')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Connections at once')
            [CompletionResult]::new('--concurrency', '--concurrency', [CompletionResultType]::ParameterName, 'Connections at once')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'What to write: files, an OCI image layout, or a tar of one')
            [CompletionResult]::new('--extract-to', '--extract-to', [CompletionResultType]::ParameterName, 'Unpack into DIR instead of the output directory')
            [CompletionResult]::new('--max-unpacked-size', '--max-unpacked-size', [CompletionResultType]::ParameterName, 'Refuse an archive that unpacks to more than SIZE (e.g. 10G) [default: 100 × the archive, at least 16 MiB, at most 64 GiB]')
            [CompletionResult]::new('--verify-key', '--verify-key', [CompletionResultType]::ParameterName, 'Refuse unless signed with this public key')
            [CompletionResult]::new('--referrer', '--referrer', [CompletionResultType]::ParameterName, 'Also pull the newest referrer of artifact TYPE')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress display on stderr')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the PEM root certificates in FILE, besides the system''s')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--registry-config', '--registry-config', [CompletionResultType]::ParameterName, 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)')
            [CompletionResult]::new('--cache', '--cache', [CompletionResultType]::ParameterName, 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]')
            [CompletionResult]::new('--registries-conf', '--registries-conf', [CompletionResultType]::ParameterName, 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]')
            [CompletionResult]::new('--mirror', '--mirror', [CompletionResultType]::ParameterName, 'Try HOST[:PORT][/NAMESPACE] before the reference''s registry, for any pull; repeatable')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries of a failed request or transfer (with backoff), each resuming where it stopped')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds a connection may deliver nothing before it counts as stalled')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all')
            [CompletionResult]::new('--oci-layout', '--oci-layout', [CompletionResultType]::ParameterName, 'Read REF as an OCI image layout on this machine, not a registry')
            [CompletionResult]::new('--case-sensitive', '--case-sensitive', [CompletionResultType]::ParameterName, 'Match names and keywords case-sensitively')
            [CompletionResult]::new('--flatten', '--flatten', [CompletionResultType]::ParameterName, 'Save each layer under the last component of its title')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document about the pull on stdout')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'List what would be pulled; write nothing')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Unpack archives, told by their bytes')
            [CompletionResult]::new('--extract', '--extract', [CompletionResultType]::ParameterName, 'Unpack archives, told by their bytes')
            [CompletionResult]::new('--keep-archive', '--keep-archive', [CompletionResultType]::ParameterName, 'Keep downloaded archives next to what was unpacked from them')
            [CompletionResult]::new('--no-unpack', '--no-unpack', [CompletionResultType]::ParameterName, 'Keep layers that oras marked for unpacking (pushed directories) as archives')
            [CompletionResult]::new('--no-subject', '--no-subject', [CompletionResultType]::ParameterName, 'With --referrer: pull only the referrer''s files, not the subject''s')
            [CompletionResult]::new('--include-referrers', '--include-referrers', [CompletionResultType]::ParameterName, 'With --format oci-layout|oci-archive: also store what is attached')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--plain-http', '--plain-http', [CompletionResultType]::ParameterName, 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Skip TLS certificate verification')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password or token from standard input')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Use no blob cache')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'oci-dl;manifest' {
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'Resolve an index to this platform''s manifest (OS/ARCH[/VARIANT][:OS_VERSION])')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write to FILE instead of stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write to FILE instead of stdout')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress display on stderr')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the PEM root certificates in FILE, besides the system''s')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--registry-config', '--registry-config', [CompletionResultType]::ParameterName, 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)')
            [CompletionResult]::new('--cache', '--cache', [CompletionResultType]::ParameterName, 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]')
            [CompletionResult]::new('--registries-conf', '--registries-conf', [CompletionResultType]::ParameterName, 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]')
            [CompletionResult]::new('--mirror', '--mirror', [CompletionResultType]::ParameterName, 'Try HOST[:PORT][/NAMESPACE] before the reference''s registry, for any pull; repeatable')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries of a failed request or transfer (with backoff), each resuming where it stopped')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds a connection may deliver nothing before it counts as stalled')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all')
            [CompletionResult]::new('--descriptor', '--descriptor', [CompletionResultType]::ParameterName, 'Print the resolved descriptor as JSON instead of the body: the index entry as sent, or the manifest''s mediaType, digest and size')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--plain-http', '--plain-http', [CompletionResultType]::ParameterName, 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Skip TLS certificate verification')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password or token from standard input')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Use no blob cache')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'oci-dl;blob' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write to FILE, into an existing DIR under the digest''s hex (as `pull -o`), or `-` for stdout [default: the digest''s hex in the current directory]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write to FILE, into an existing DIR under the digest''s hex (as `pull -o`), or `-` for stdout [default: the digest''s hex in the current directory]')
            [CompletionResult]::new('--overwrite', '--overwrite', [CompletionResultType]::ParameterName, 'When the file exists with other content [default: prompt at a terminal, else error]')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress display on stderr')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the PEM root certificates in FILE, besides the system''s')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--registry-config', '--registry-config', [CompletionResultType]::ParameterName, 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)')
            [CompletionResult]::new('--cache', '--cache', [CompletionResultType]::ParameterName, 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]')
            [CompletionResult]::new('--registries-conf', '--registries-conf', [CompletionResultType]::ParameterName, 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]')
            [CompletionResult]::new('--mirror', '--mirror', [CompletionResultType]::ParameterName, 'Try HOST[:PORT][/NAMESPACE] before the reference''s registry, for any pull; repeatable')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries of a failed request or transfer (with backoff), each resuming where it stopped')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds a connection may deliver nothing before it counts as stalled')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--plain-http', '--plain-http', [CompletionResultType]::ParameterName, 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Skip TLS certificate verification')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password or token from standard input')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Use no blob cache')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'oci-dl;digest' {
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'The digest of this platform''s manifest in an index (OS/ARCH[/VARIANT][:OS_VERSION]), instead of the index''s own')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress display on stderr')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the PEM root certificates in FILE, besides the system''s')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--registry-config', '--registry-config', [CompletionResultType]::ParameterName, 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)')
            [CompletionResult]::new('--cache', '--cache', [CompletionResultType]::ParameterName, 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]')
            [CompletionResult]::new('--registries-conf', '--registries-conf', [CompletionResultType]::ParameterName, 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]')
            [CompletionResult]::new('--mirror', '--mirror', [CompletionResultType]::ParameterName, 'Try HOST[:PORT][/NAMESPACE] before the reference''s registry, for any pull; repeatable')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries of a failed request or transfer (with backoff), each resuming where it stopped')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds a connection may deliver nothing before it counts as stalled')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--plain-http', '--plain-http', [CompletionResultType]::ParameterName, 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Skip TLS certificate verification')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password or token from standard input')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Use no blob cache')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'oci-dl;referrers' {
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'List the referrers of this platform''s manifest instead of the index''s')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress display on stderr')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the PEM root certificates in FILE, besides the system''s')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--registry-config', '--registry-config', [CompletionResultType]::ParameterName, 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)')
            [CompletionResult]::new('--cache', '--cache', [CompletionResultType]::ParameterName, 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]')
            [CompletionResult]::new('--registries-conf', '--registries-conf', [CompletionResultType]::ParameterName, 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]')
            [CompletionResult]::new('--mirror', '--mirror', [CompletionResultType]::ParameterName, 'Try HOST[:PORT][/NAMESPACE] before the reference''s registry, for any pull; repeatable')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries of a failed request or transfer (with backoff), each resuming where it stopped')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds a connection may deliver nothing before it counts as stalled')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document: subject, source (api or tag) and the descriptors as listed')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--plain-http', '--plain-http', [CompletionResultType]::ParameterName, 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Skip TLS certificate verification')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password or token from standard input')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Use no blob cache')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'oci-dl;tags' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress display on stderr')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the PEM root certificates in FILE, besides the system''s')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--registry-config', '--registry-config', [CompletionResultType]::ParameterName, 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)')
            [CompletionResult]::new('--cache', '--cache', [CompletionResultType]::ParameterName, 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]')
            [CompletionResult]::new('--registries-conf', '--registries-conf', [CompletionResultType]::ParameterName, 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]')
            [CompletionResult]::new('--mirror', '--mirror', [CompletionResultType]::ParameterName, 'Try HOST[:PORT][/NAMESPACE] before the reference''s registry, for any pull; repeatable')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries of a failed request or transfer (with backoff), each resuming where it stopped')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds a connection may deliver nothing before it counts as stalled')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON array instead')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--plain-http', '--plain-http', [CompletionResultType]::ParameterName, 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Skip TLS certificate verification')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password or token from standard input')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Use no blob cache')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'oci-dl;cache' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress display on stderr')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the PEM root certificates in FILE, besides the system''s')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--registry-config', '--registry-config', [CompletionResultType]::ParameterName, 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)')
            [CompletionResult]::new('--cache', '--cache', [CompletionResultType]::ParameterName, 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]')
            [CompletionResult]::new('--registries-conf', '--registries-conf', [CompletionResultType]::ParameterName, 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]')
            [CompletionResult]::new('--mirror', '--mirror', [CompletionResultType]::ParameterName, 'Try HOST[:PORT][/NAMESPACE] before the reference''s registry, for any pull; repeatable')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries of a failed request or transfer (with backoff), each resuming where it stopped')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds a connection may deliver nothing before it counts as stalled')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--plain-http', '--plain-http', [CompletionResultType]::ParameterName, 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Skip TLS certificate verification')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password or token from standard input')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Use no blob cache')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('dir', 'dir', [CompletionResultType]::ParameterValue, 'Print the cache directory')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Delete least recently used blobs until the cache holds at most SIZE')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'oci-dl;cache;dir' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress display on stderr')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the PEM root certificates in FILE, besides the system''s')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--registry-config', '--registry-config', [CompletionResultType]::ParameterName, 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)')
            [CompletionResult]::new('--cache', '--cache', [CompletionResultType]::ParameterName, 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]')
            [CompletionResult]::new('--registries-conf', '--registries-conf', [CompletionResultType]::ParameterName, 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]')
            [CompletionResult]::new('--mirror', '--mirror', [CompletionResultType]::ParameterName, 'Try HOST[:PORT][/NAMESPACE] before the reference''s registry, for any pull; repeatable')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries of a failed request or transfer (with backoff), each resuming where it stopped')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds a connection may deliver nothing before it counts as stalled')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--plain-http', '--plain-http', [CompletionResultType]::ParameterName, 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Skip TLS certificate verification')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password or token from standard input')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Use no blob cache')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'oci-dl;cache;prune' {
            [CompletionResult]::new('--max-size', '--max-size', [CompletionResultType]::ParameterName, 'Like 10G, 500M or 2048 (bytes)')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress display on stderr')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the PEM root certificates in FILE, besides the system''s')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--registry-config', '--registry-config', [CompletionResultType]::ParameterName, 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)')
            [CompletionResult]::new('--cache', '--cache', [CompletionResultType]::ParameterName, 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]')
            [CompletionResult]::new('--registries-conf', '--registries-conf', [CompletionResultType]::ParameterName, 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]')
            [CompletionResult]::new('--mirror', '--mirror', [CompletionResultType]::ParameterName, 'Try HOST[:PORT][/NAMESPACE] before the reference''s registry, for any pull; repeatable')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries of a failed request or transfer (with backoff), each resuming where it stopped')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds a connection may deliver nothing before it counts as stalled')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--plain-http', '--plain-http', [CompletionResultType]::ParameterName, 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Skip TLS certificate verification')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password or token from standard input')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Use no blob cache')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'oci-dl;cache;help' {
            [CompletionResult]::new('dir', 'dir', [CompletionResultType]::ParameterValue, 'Print the cache directory')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Delete least recently used blobs until the cache holds at most SIZE')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'oci-dl;cache;help;dir' {
            break
        }
        'oci-dl;cache;help;prune' {
            break
        }
        'oci-dl;cache;help;help' {
            break
        }
        'oci-dl;completions' {
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Progress display on stderr')
            [CompletionResult]::new('--ca-file', '--ca-file', [CompletionResultType]::ParameterName, 'Trust the PEM root certificates in FILE, besides the system''s')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--username', '--username', [CompletionResultType]::ParameterName, 'User name for the registry')
            [CompletionResult]::new('--registry-config', '--registry-config', [CompletionResultType]::ParameterName, 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)')
            [CompletionResult]::new('--cache', '--cache', [CompletionResultType]::ParameterName, 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]')
            [CompletionResult]::new('--registries-conf', '--registries-conf', [CompletionResultType]::ParameterName, 'Read mirrors and registry locations from this registries.conf (v2) alone [default: $XDG_CONFIG_HOME/containers/registries.conf, else /etc/containers/registries.conf, each with its registries.conf.d]')
            [CompletionResult]::new('--mirror', '--mirror', [CompletionResultType]::ParameterName, 'Try HOST[:PORT][/NAMESPACE] before the reference''s registry, for any pull; repeatable')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries of a failed request or transfer (with backoff), each resuming where it stopped')
            [CompletionResult]::new('--resolve', '--resolve', [CompletionResultType]::ParameterName, 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds a connection may deliver nothing before it counts as stalled')
            [CompletionResult]::new('--deadline', '--deadline', [CompletionResultType]::ParameterName, 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More detail on stderr; -vv everything')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--plain-http', '--plain-http', [CompletionResultType]::ParameterName, 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Skip TLS certificate verification')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password or token from standard input')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Use no blob cache')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Use the cache alone, no network: a tag means the digest an earlier pull on this machine resolved it to')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'oci-dl;help' {
            [CompletionResult]::new('pull', 'pull', [CompletionResultType]::ParameterValue, 'Download the layers of an artifact, each saved under its title')
            [CompletionResult]::new('manifest', 'manifest', [CompletionResultType]::ParameterValue, 'Print a manifest exactly as the registry serves it')
            [CompletionResult]::new('blob', 'blob', [CompletionResultType]::ParameterValue, 'Download one blob by digest, to a file or stdout')
            [CompletionResult]::new('digest', 'digest', [CompletionResultType]::ParameterValue, 'Print the digest a tag resolves to (of the index, or with --platform of one manifest)')
            [CompletionResult]::new('referrers', 'referrers', [CompletionResultType]::ParameterValue, 'List what is attached to a manifest: SBOMs, signatures, attestations')
            [CompletionResult]::new('tags', 'tags', [CompletionResultType]::ParameterValue, 'List a repository''s tags, one per line')
            [CompletionResult]::new('cache', 'cache', [CompletionResultType]::ParameterValue, 'Manage the blob cache')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'oci-dl;help;pull' {
            break
        }
        'oci-dl;help;manifest' {
            break
        }
        'oci-dl;help;blob' {
            break
        }
        'oci-dl;help;digest' {
            break
        }
        'oci-dl;help;referrers' {
            break
        }
        'oci-dl;help;tags' {
            break
        }
        'oci-dl;help;cache' {
            [CompletionResult]::new('dir', 'dir', [CompletionResultType]::ParameterValue, 'Print the cache directory')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Delete least recently used blobs until the cache holds at most SIZE')
            break
        }
        'oci-dl;help;cache;dir' {
            break
        }
        'oci-dl;help;cache;prune' {
            break
        }
        'oci-dl;help;completions' {
            break
        }
        'oci-dl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
