/*
 * wmverify - checks filmmark evidence with nothing but the public key: a
 * receipt (its own signature, the embedded payload's signature and,
 * optionally, the deliverable's SHA-256), or a message that wmdetect read
 * from a copy (payload + signature, in hex).
 *
 * Exit status: 0 valid; 1 does not verify (or the deliverable differs); 2 error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <sodium.h>

#include "keys.h"
#include "payload.h"
#include "receipt.h"
#include "tool_util.h"
#include "version.h"

enum { EXIT_VALID = 0, EXIT_INVALID = 1, EXIT_ERROR = 2 };

static void usage(FILE *out)
{
    fprintf(out,
        "usage: wmverify -p KEY.pub RECEIPT.json [--file DELIVERABLE] [--json]\n"
        "       wmverify -p KEY.pub --message HEX [--json]\n"
        "\n"
        "Checks filmmark evidence with the public key alone (a .pub, or a .dkey or\n"
        ".key of the same set): a receipt's own signature and the signature of the\n"
        "payload it records, and with --file that DELIVERABLE is the file the\n"
        "receipt describes (SHA-256); or a message read by wmdetect from a copy\n"
        "(its --json \"message_hex\": the payload and its Ed25519 signature).\n"
        "\n"
        "  -p, --pub FILE      the studio's public key\n"
        "      --file FILE     the deliverable to compare with the receipt's SHA-256\n"
        "      --message HEX   156 hex digits: payload (14 bytes) + signature (64)\n"
        "      --json          print one JSON object on stdout\n"
        "  -V, --version       the version and the formats it reads\n"
        "  -h, --help          this help\n"
        "\n"
        "exit status: 0 valid; 1 does not verify, or the deliverable differs; 2 error\n");
}

static void print_payload_json(json_t *o, const uint8_t *message, int valid)
{
    FmPayload p;
    char issued[32];
    if (valid && fm_payload_unpack(message, &p, NULL) == 0) {
        fm_minutes_to_iso8601(p.issued_minutes, issued, sizeof(issued));
        const char *ai = fm_ai_use_name(p.ai_use);
        json_object_set_new(o, "payload", json_pack("{s:i, s:I, s:I, s:s, s:o}",
            "version", p.version, "title_id", (json_int_t)p.title_id,
            "recipient_id", (json_int_t)p.recipient_id, "issued", issued,
            "ai_use", ai ? json_string(ai) : json_integer(p.ai_use)));
    } else {
        json_object_set_new(o, "payload", json_null());
    }
}

static void print_payload_text(const uint8_t *message)
{
    FmPayload p;
    char issued[32];
    if (fm_payload_unpack(message, &p, NULL) < 0)
        return;
    fm_minutes_to_iso8601(p.issued_minutes, issued, sizeof(issued));
    printf("  title id:      %u\n  recipient id:  %u%s\n  issued:        %s\n"
           "  AI training:   %s (signed)\n", p.title_id, p.recipient_id,
           p.recipient_id ? "" : " (general release)", issued, fm_ai_use_text(p.ai_use));
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "pub", required_argument, 0, 'p' },
        { "file", required_argument, 0, 'f' },
        { "message", required_argument, 0, 'm' },
        { "json", no_argument, 0, 'j' },
        { "version", no_argument, 0, 'V' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *pub = NULL, *file = NULL, *hex = NULL;
    int json = 0, want_version = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': pub = optarg; break;
        case 'f': file = optarg; break;
        case 'm': hex = optarg; break;
        case 'j': json = 1; break;
        case 'V': want_version = 1; break;
        case 'h': usage(stdout); return 0;
        default: {
            char msg[300];
            fprintf(stderr, "wmverify: %s\n", fm_option_error(opts, argv, c, msg, sizeof(msg)));
            return EXIT_ERROR;
        }
        }
    }
    if (want_version) {
        fm_print_version(stdout, "wmverify", json);
        return 0;
    }
    const char *receipt = optind < argc ? argv[optind] : NULL;
    if (!pub || (!!receipt == !!hex) || argc - optind > (hex ? 0 : 1) || (hex && file)) {
        fprintf(stderr, "wmverify: give -p KEY.pub and either a receipt or --message (see --help)\n");
        return EXIT_ERROR;
    }

    FmError err = { { 0 } };
    FmKey *key = NULL;
    uint8_t message[FM_MESSAGE_BYTES];
    char fp[FM_FINGERPRINT_CHARS + 1], recorded[65] = "", actual[65] = "";
    int ret = EXIT_ERROR, valid = 0, file_match = -1;
    json_t *o = NULL;

    if (fm_init(&err) < 0 || !(key = fm_key_new())) {
        fprintf(stderr, "wmverify: %s\n", err.msg[0] ? err.msg : "out of secure memory");
        return EXIT_ERROR;
    }
    if (fm_key_load(key, pub, 0, &err) < 0)
        goto fail;
    fm_key_fingerprint(key, fp);
    if (hex) {
        if (strlen(hex) != 2 * FM_MESSAGE_BYTES || fm_unhex(hex, message, FM_MESSAGE_BYTES) < 0) {
            fm_error_set(&err, FM_EINVAL, "--message wants %d hex digits (wmdetect --json "
                         "\"message_hex\")", 2 * FM_MESSAGE_BYTES);
            goto fail;
        }
        valid = fm_payload_verify(message, key) == 0;
    } else {
        int r = fm_receipt_read_output(receipt, key, message, recorded, &err);
        if (r < 0 && r != FM_ECRYPTO)
            goto fail;
        valid = r == 0;
        if (valid && file) {
            if (fm_sha256_file(file, actual, &err) < 0)
                goto fail;
            file_match = sodium_memcmp(actual, recorded, 64) == 0;
        }
    }
    int ok = valid && file_match != 0;
    if (json) {
        o = json_object();
        json_object_set_new(o, "schema", json_string("filmmark-verify-1"));
        json_object_set_new(o, "version", json_string(FM_VERSION));
        json_object_set_new(o, "evidence", json_string(hex ? "message" : "receipt"));
        if (receipt)
            json_object_set_new(o, "receipt", json_string(receipt));
        json_object_set_new(o, "key_fingerprint", json_string(fp));
        json_object_set_new(o, "valid", json_boolean(valid));
        if (!valid && receipt)
            json_object_set_new(o, "reason", json_string(err.msg));
        print_payload_json(o, message, valid);
        if (file) {
            json_object_set_new(o, "file", json_string(file));
            json_object_set_new(o, "file_sha256", file_match < 0 ? json_null() : json_string(actual));
            json_object_set_new(o, "file_matches_receipt",
                                file_match < 0 ? json_null() : json_boolean(file_match));
        }
        json_object_set_new(o, "verified", json_boolean(ok));
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    } else if (hex) {
        printf("message: %s (key %s)\n", valid ? "signature valid" : "signature does NOT verify", fp);
        if (valid)
            print_payload_text(message);
    } else {
        if (valid)
            printf("%s: receipt and payload signatures valid (key %s)\n", receipt, fp);
        else
            printf("%s: does NOT verify: %s\n", receipt, err.msg);
        if (valid)
            print_payload_text(message);
        if (file_match >= 0)
            printf("  deliverable:   %s %s the file the receipt describes (sha256 %s)\n", file,
                   file_match ? "is" : "is NOT", actual);
    }
    ret = ok ? EXIT_VALID : EXIT_INVALID;
    goto end;
fail:
    fprintf(stderr, "wmverify: %s\n", err.msg);
    if (json)
        fm_print_json_error(stdout, "wmverify", err.msg, EXIT_ERROR);
    ret = EXIT_ERROR;
end:
    json_decref(o);
    fm_key_free(&key);
    return ret;
}
