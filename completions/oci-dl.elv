
use builtin;
use str;

set edit:completion:arg-completer[oci-dl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'oci-dl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'oci-dl'= {
            cand --progress 'Progress display on stderr'
            cand --ca-file 'Trust the PEM root certificates in FILE, besides the system''s'
            cand -u 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --username 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --registry-config 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)'
            cand --cache 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]'
            cand --retries 'Retries of a failed request or transfer (with backoff), each resuming where it stopped'
            cand --resolve 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable'
            cand --timeout 'Seconds a connection may deliver nothing before it counts as stalled'
            cand --deadline 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all'
            cand -v 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand --verbose 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand --plain-http 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
            cand --insecure 'Skip TLS certificate verification'
            cand --password-stdin 'Read the password or token from standard input'
            cand --no-cache 'Use no blob cache'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand pull 'Download the layers of an artifact, each saved under its title'
            cand manifest 'Print a manifest exactly as the registry serves it'
            cand blob 'Download one blob by digest, to a file or stdout'
            cand referrers 'List what is attached to a manifest: SBOMs, signatures, attestations'
            cand tags 'List a repository''s tags, one per line'
            cand cache 'Manage the blob cache'
            cand completions 'Print a shell completion script'
            cand generate-assets 'Write completions/ and man/ under DIR (for the repository''s generated files)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'oci-dl;pull'= {
            cand --platform 'Platform to pick from an index, OS/ARCH[/VARIANT][:OS_VERSION] [default: this machine''s]'
            cand -g 'Select layers whose name matches PATTERN; any of several may match'
            cand --glob 'Select layers whose name matches PATTERN; any of several may match'
            cand -r 'Select layers whose name matches RE; all of several must match'
            cand --regex 'Select layers whose name matches RE; all of several must match'
            cand --include 'Names must contain one of these keywords; each use of the flag is a group that must match'
            cand --exclude 'Names must contain none of these keywords'
            cand --media-type 'Select layers by media type (globs allowed)'
            cand -o 'Directory to write into (created if missing), or `-` to stream the one selected layer to stdout'
            cand --output 'Directory to write into (created if missing), or `-` to stream the one selected layer to stdout'
            cand --overwrite 'When a file exists with other content [default: prompt at a terminal, else error]'
            cand -j 'Connections at once: layers, or ranges of a big blob on a slow link'
            cand --jobs 'Connections at once: layers, or ranges of a big blob on a slow link'
            cand --extract-to 'Unpack into DIR instead of the output directory'
            cand --max-unpacked-size 'Refuse an archive that unpacks to more than SIZE (e.g. 10G) [default: 100 × the archive, at least 16 MiB, at most 64 GiB]'
            cand --verify-key 'Refuse unless signed with this public key: a minisign key (minisign.pub, or its base64 line) or a cosign.pub (PEM, ECDSA P-256); a file, or env:VAR. Repeatable'
            cand --referrer 'Also pull the files of the newest referrer of artifact TYPE (an SBOM such as application/spdx+json, an attestation) into the output directory'
            cand --progress 'Progress display on stderr'
            cand --ca-file 'Trust the PEM root certificates in FILE, besides the system''s'
            cand -u 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --username 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --registry-config 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)'
            cand --cache 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]'
            cand --retries 'Retries of a failed request or transfer (with backoff), each resuming where it stopped'
            cand --resolve 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable'
            cand --timeout 'Seconds a connection may deliver nothing before it counts as stalled'
            cand --deadline 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all'
            cand --case-sensitive 'Match names and keywords case-sensitively'
            cand --flatten 'Save each layer under the last component of its title'
            cand --json 'Print one JSON document describing the pull on stdout'
            cand --dry-run 'Resolve and filter, list what would be pulled, write nothing'
            cand -x 'Unpack archive layers (tar, tar.gz/.zst/.xz/.bz2, zip, single .gz/.zst/.xz/.bz2, told by their bytes); an image becomes its root filesystem'
            cand --extract 'Unpack archive layers (tar, tar.gz/.zst/.xz/.bz2, zip, single .gz/.zst/.xz/.bz2, told by their bytes); an image becomes its root filesystem'
            cand --keep-archive 'Keep downloaded archives next to what was unpacked from them'
            cand --no-unpack 'Keep layers that oras marked for unpacking (pushed directories) as archives'
            cand --no-subject 'With --referrer: pull only the referrer''s files, not the subject''s'
            cand -v 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand --verbose 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand --plain-http 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
            cand --insecure 'Skip TLS certificate verification'
            cand --password-stdin 'Read the password or token from standard input'
            cand --no-cache 'Use no blob cache'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'oci-dl;manifest'= {
            cand --platform 'Resolve an index to this platform''s manifest (OS/ARCH[/VARIANT][:OS_VERSION])'
            cand -o 'Write to FILE instead of stdout'
            cand --output 'Write to FILE instead of stdout'
            cand --progress 'Progress display on stderr'
            cand --ca-file 'Trust the PEM root certificates in FILE, besides the system''s'
            cand -u 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --username 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --registry-config 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)'
            cand --cache 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]'
            cand --retries 'Retries of a failed request or transfer (with backoff), each resuming where it stopped'
            cand --resolve 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable'
            cand --timeout 'Seconds a connection may deliver nothing before it counts as stalled'
            cand --deadline 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all'
            cand --descriptor 'Print the resolved descriptor as JSON instead of the body: the index entry as sent, or the manifest''s mediaType, digest and size'
            cand -v 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand --verbose 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand --plain-http 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
            cand --insecure 'Skip TLS certificate verification'
            cand --password-stdin 'Read the password or token from standard input'
            cand --no-cache 'Use no blob cache'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'oci-dl;blob'= {
            cand -o 'Write to FILE, or `-` for stdout [default: the digest''s hex in the current directory]'
            cand --output 'Write to FILE, or `-` for stdout [default: the digest''s hex in the current directory]'
            cand --overwrite 'When the file exists with other content [default: prompt at a terminal, else error]'
            cand --progress 'Progress display on stderr'
            cand --ca-file 'Trust the PEM root certificates in FILE, besides the system''s'
            cand -u 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --username 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --registry-config 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)'
            cand --cache 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]'
            cand --retries 'Retries of a failed request or transfer (with backoff), each resuming where it stopped'
            cand --resolve 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable'
            cand --timeout 'Seconds a connection may deliver nothing before it counts as stalled'
            cand --deadline 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all'
            cand -v 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand --verbose 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand --plain-http 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
            cand --insecure 'Skip TLS certificate verification'
            cand --password-stdin 'Read the password or token from standard input'
            cand --no-cache 'Use no blob cache'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'oci-dl;referrers'= {
            cand --platform 'List the referrers of this platform''s manifest instead of the index''s'
            cand --progress 'Progress display on stderr'
            cand --ca-file 'Trust the PEM root certificates in FILE, besides the system''s'
            cand -u 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --username 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --registry-config 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)'
            cand --cache 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]'
            cand --retries 'Retries of a failed request or transfer (with backoff), each resuming where it stopped'
            cand --resolve 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable'
            cand --timeout 'Seconds a connection may deliver nothing before it counts as stalled'
            cand --deadline 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all'
            cand --json 'Print one JSON document: subject, source (api or tag) and the descriptors as listed'
            cand -v 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand --verbose 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand --plain-http 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
            cand --insecure 'Skip TLS certificate verification'
            cand --password-stdin 'Read the password or token from standard input'
            cand --no-cache 'Use no blob cache'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'oci-dl;tags'= {
            cand --progress 'Progress display on stderr'
            cand --ca-file 'Trust the PEM root certificates in FILE, besides the system''s'
            cand -u 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --username 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --registry-config 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)'
            cand --cache 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]'
            cand --retries 'Retries of a failed request or transfer (with backoff), each resuming where it stopped'
            cand --resolve 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable'
            cand --timeout 'Seconds a connection may deliver nothing before it counts as stalled'
            cand --deadline 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all'
            cand --json 'Print a JSON array instead'
            cand -v 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand --verbose 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand --plain-http 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
            cand --insecure 'Skip TLS certificate verification'
            cand --password-stdin 'Read the password or token from standard input'
            cand --no-cache 'Use no blob cache'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'oci-dl;cache'= {
            cand --progress 'Progress display on stderr'
            cand --ca-file 'Trust the PEM root certificates in FILE, besides the system''s'
            cand -u 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --username 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --registry-config 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)'
            cand --cache 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]'
            cand --retries 'Retries of a failed request or transfer (with backoff), each resuming where it stopped'
            cand --resolve 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable'
            cand --timeout 'Seconds a connection may deliver nothing before it counts as stalled'
            cand --deadline 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all'
            cand -v 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand --verbose 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand --plain-http 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
            cand --insecure 'Skip TLS certificate verification'
            cand --password-stdin 'Read the password or token from standard input'
            cand --no-cache 'Use no blob cache'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand dir 'Print the cache directory'
            cand prune 'Delete least recently used blobs until the cache holds at most SIZE'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'oci-dl;cache;dir'= {
            cand --progress 'Progress display on stderr'
            cand --ca-file 'Trust the PEM root certificates in FILE, besides the system''s'
            cand -u 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --username 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --registry-config 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)'
            cand --cache 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]'
            cand --retries 'Retries of a failed request or transfer (with backoff), each resuming where it stopped'
            cand --resolve 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable'
            cand --timeout 'Seconds a connection may deliver nothing before it counts as stalled'
            cand --deadline 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all'
            cand -v 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand --verbose 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand --plain-http 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
            cand --insecure 'Skip TLS certificate verification'
            cand --password-stdin 'Read the password or token from standard input'
            cand --no-cache 'Use no blob cache'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'oci-dl;cache;prune'= {
            cand --max-size 'Like 10G, 500M or 2048 (bytes)'
            cand --progress 'Progress display on stderr'
            cand --ca-file 'Trust the PEM root certificates in FILE, besides the system''s'
            cand -u 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --username 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --registry-config 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)'
            cand --cache 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]'
            cand --retries 'Retries of a failed request or transfer (with backoff), each resuming where it stopped'
            cand --resolve 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable'
            cand --timeout 'Seconds a connection may deliver nothing before it counts as stalled'
            cand --deadline 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all'
            cand -v 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand --verbose 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand --plain-http 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
            cand --insecure 'Skip TLS certificate verification'
            cand --password-stdin 'Read the password or token from standard input'
            cand --no-cache 'Use no blob cache'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'oci-dl;cache;help'= {
            cand dir 'Print the cache directory'
            cand prune 'Delete least recently used blobs until the cache holds at most SIZE'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'oci-dl;cache;help;dir'= {
        }
        &'oci-dl;cache;help;prune'= {
        }
        &'oci-dl;cache;help;help'= {
        }
        &'oci-dl;completions'= {
            cand --progress 'Progress display on stderr'
            cand --ca-file 'Trust the PEM root certificates in FILE, besides the system''s'
            cand -u 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --username 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --registry-config 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)'
            cand --cache 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]'
            cand --retries 'Retries of a failed request or transfer (with backoff), each resuming where it stopped'
            cand --resolve 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable'
            cand --timeout 'Seconds a connection may deliver nothing before it counts as stalled'
            cand --deadline 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all'
            cand -v 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand --verbose 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand --plain-http 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
            cand --insecure 'Skip TLS certificate verification'
            cand --password-stdin 'Read the password or token from standard input'
            cand --no-cache 'Use no blob cache'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'oci-dl;generate-assets'= {
            cand --progress 'Progress display on stderr'
            cand --ca-file 'Trust the PEM root certificates in FILE, besides the system''s'
            cand -u 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --username 'User name for the registry (password from --password-stdin or OCI_DL_PASSWORD)'
            cand --registry-config 'Read credentials from this Docker/containers auth file first (else REGISTRY_AUTH_FILE, podman''s, Docker''s)'
            cand --cache 'Keep verified blobs in DIR and copy them from there instead of downloading [default: $XDG_CACHE_HOME/oci-dl]'
            cand --retries 'Retries of a failed request or transfer (with backoff), each resuming where it stopped'
            cand --resolve 'Connect HOST:PORT to ADDR instead of asking DNS (as curl''s --resolve); repeatable'
            cand --timeout 'Seconds a connection may deliver nothing before it counts as stalled'
            cand --deadline 'Seconds a small answer (headers, manifest, token, tag list, error body) may take in all'
            cand -v 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand --verbose 'More detail on stderr: -v shows requests and auth steps, -vv everything'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand --plain-http 'Use plain HTTP, never TLS (a loopback registry gets it anyway when it does not speak TLS)'
            cand --insecure 'Skip TLS certificate verification'
            cand --password-stdin 'Read the password or token from standard input'
            cand --no-cache 'Use no blob cache'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'oci-dl;help'= {
            cand pull 'Download the layers of an artifact, each saved under its title'
            cand manifest 'Print a manifest exactly as the registry serves it'
            cand blob 'Download one blob by digest, to a file or stdout'
            cand referrers 'List what is attached to a manifest: SBOMs, signatures, attestations'
            cand tags 'List a repository''s tags, one per line'
            cand cache 'Manage the blob cache'
            cand completions 'Print a shell completion script'
            cand generate-assets 'Write completions/ and man/ under DIR (for the repository''s generated files)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'oci-dl;help;pull'= {
        }
        &'oci-dl;help;manifest'= {
        }
        &'oci-dl;help;blob'= {
        }
        &'oci-dl;help;referrers'= {
        }
        &'oci-dl;help;tags'= {
        }
        &'oci-dl;help;cache'= {
            cand dir 'Print the cache directory'
            cand prune 'Delete least recently used blobs until the cache holds at most SIZE'
        }
        &'oci-dl;help;cache;dir'= {
        }
        &'oci-dl;help;cache;prune'= {
        }
        &'oci-dl;help;completions'= {
        }
        &'oci-dl;help;generate-assets'= {
        }
        &'oci-dl;help;help'= {
        }
    ]
    $completions[$command]
}
