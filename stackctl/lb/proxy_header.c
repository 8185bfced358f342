/* PROXY protocol v1/v2 headers (the text and binary forms HAProxy specifies), written by the relay
 * loop ahead of a client's bytes and exposed to Python by _relay.c for tests.  A leaf: it includes
 * nothing of the relay, and both relay_loop.c and _relay.c include its header.
 */
#include "proxy_header.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const unsigned char V2_SIGNATURE[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* The address as IPv4 or IPv6 bytes, v4-mapped IPv6 made IPv4; returns 4, 6 or 0 (unknown). */
static int plain_address(const struct sockaddr *sa, unsigned char addr[16], uint16_t *port) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(addr, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return 4;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        *port = ntohs(in6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            memcpy(addr, in6->sin6_addr.s6_addr + 12, 4);
            return 4;
        }
        memcpy(addr, &in6->sin6_addr, 16);
        return 6;
    }
    return 0;
}

/* Writes the header for `version` (1 or 2) into out (at least 108 bytes); returns its length. */
int proxy_header(int version, const struct sockaddr *src, const struct sockaddr *dst, char *out) {
    unsigned char sa[16], da[16];
    uint16_t sport, dport;
    int family = plain_address(src, sa, &sport);
    if (family == 0 || plain_address(dst, da, &dport) != family)
        family = 0;
    if (version == 1) {
        if (family == 0)
            return sprintf(out, "PROXY UNKNOWN\r\n");
        int af = family == 4 ? AF_INET : AF_INET6;
        char stext[INET6_ADDRSTRLEN], dtext[INET6_ADDRSTRLEN];
        inet_ntop(af, sa, stext, sizeof stext);
        inet_ntop(af, da, dtext, sizeof dtext);
        return sprintf(out, "PROXY %s %s %s %u %u\r\n", family == 4 ? "TCP4" : "TCP6", stext, dtext,
                       (unsigned)sport, (unsigned)dport);
    }
    unsigned char *p = (unsigned char *)out;
    memcpy(p, V2_SIGNATURE, 12);
    if (family == 0) {  /* LOCAL: no address block */
        p[12] = 0x20;
        p[13] = p[14] = p[15] = 0;
        return 16;
    }
    int size = family == 4 ? 4 : 16, body = 2 * size + 4;
    p[12] = 0x21;
    p[13] = family == 4 ? 0x11 : 0x21;
    p[14] = (unsigned char)(body >> 8);
    p[15] = (unsigned char)body;
    memcpy(p + 16, sa, (size_t)size);
    memcpy(p + 16 + size, da, (size_t)size);
    p[16 + 2 * size] = (unsigned char)(sport >> 8);
    p[17 + 2 * size] = (unsigned char)sport;
    p[18 + 2 * size] = (unsigned char)(dport >> 8);
    p[19 + 2 * size] = (unsigned char)dport;
    return 16 + body;
}
