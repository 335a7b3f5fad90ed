/* replay.c: runs a fuzz target over every file of its seed corpus, so
 * `make check` keeps the corpus passing without a fuzzer. Usage:
 * replay_<target> [dir...]; with no argument, the built-in corpus dir.
 *
 * Each input has PDS_FUZZ_INPUT_TIMEOUT seconds (default 10, libFuzzer's
 * -timeout in fuzz/run.sh): one that takes longer ends the run, failed,
 * naming the input, instead of hanging `make check`. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#define DEFAULT_INPUT_TIMEOUT 10

/* What the alarm says, made before each input (the handler only writes). */
static char timeout_msg[4400];
static size_t timeout_msg_len;

static void on_alarm(int sig)
{
    (void)sig;
    (void)!write(STDERR_FILENO, timeout_msg, timeout_msg_len);
    _exit(1);
}

/* The bound per input in seconds, from the environment; 0 when it is not
 * a whole number from 1 to 3600 (said on stderr). */
static unsigned input_timeout(void)
{
    const char *v = getenv("PDS_FUZZ_INPUT_TIMEOUT");
    char *end;
    long n;

    if (v == NULL || *v == '\0')
        return DEFAULT_INPUT_TIMEOUT;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < 1 || n > 3600) {
        fprintf(stderr, "replay: PDS_FUZZ_INPUT_TIMEOUT=%s: give the seconds one input "
                "may take, 1 to 3600\n", v);
        return 0;
    }
    return (unsigned)n;
}

/* Reads the file at path and runs the target on it; 1 when it cannot be
 * read. */
static int run_input(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 0;
}

/* One input under the alarm; reading it counts too (a FIFO blocks). */
static int run_file(const char *path, unsigned seconds)
{
    int n, rc;

    n = snprintf(timeout_msg, sizeof(timeout_msg), "replay: %s did not finish within %u s "
                 "(PDS_FUZZ_INPUT_TIMEOUT): a hang or a runaway input; replay its directory "
                 "with only that input in it to debug it\n", path, seconds);
    timeout_msg_len = n < 0 ? 0 : (size_t)n < sizeof(timeout_msg) ? (size_t)n
                      : sizeof(timeout_msg) - 1;
    alarm(seconds);
    rc = run_input(path);
    alarm(0);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dirs[2] = { PDS_FUZZ_CORPUS, NULL };
    const char *const *list = argc > 1 ? (const char *const *)argv + 1 : dirs;
    unsigned seconds = input_timeout();
    struct sigaction sa;
    int files = 0, failed = 0;

    if (seconds == 0)
        return 1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0) {
        perror("replay: sigaction");
        return 1;
    }
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    for (; *list != NULL; list++) {
        DIR *d = opendir(*list);
        struct dirent *e;

        if (d == NULL) {
            fprintf(stderr, "replay: no corpus at %s\n", *list);
            return 1;
        }
        while ((e = readdir(d)) != NULL) {
            char path[4096];

            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof(path), "%s/%s", *list, e->d_name);
            failed += run_file(path, seconds);
            files++;
        }
        closedir(d);
    }
    printf("%d passed, %d failed\n", files - failed, failed);
    return failed || files == 0 ? 1 : 0;
}
