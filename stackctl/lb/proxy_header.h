/* PROXY protocol v1/v2 headers: see proxy_header.c. */
#ifndef STACKCTL_PROXY_HEADER_H
#define STACKCTL_PROXY_HEADER_H

#include <sys/socket.h>

/* Writes the header for `version` (1 or 2) into out (at least 108 bytes); returns its length. */
int proxy_header(int version, const struct sockaddr *src, const struct sockaddr *dst, char *out);

#endif
