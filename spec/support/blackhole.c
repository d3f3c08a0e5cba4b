/*
 * A TCP listener whose backlog is full and that never accepts: a connect()
 * to it hangs until the client's connect timeout.  For the timeout specs.
 *
 *   blackhole      prints "port N pid P" once the backlog is full, then waits
 *                  for a signal (at most 60 s, in case nobody sends one).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0), i;

    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 0) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("blackhole");
        return 1;
    }
    /* fill the accept queue; the connects that no longer fit stay pending */
    for (i = 0; i < 4; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0)
            return 1;
        fcntl(c, F_SETFL, O_NONBLOCK);
        if (connect(c, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS)
            return 1;
    }
    {
        /* let the handshakes that fit complete */
        struct timespec pause_for = {0, 100 * 1000 * 1000};
        nanosleep(&pause_for, NULL);
    }
    printf("port %d pid %d\n", ntohs(addr.sin_port), (int)getpid());
    fflush(stdout);
    alarm(60);
    pause();
    return 0;
}
