#ifndef OSPREY_CRC32C_H
#define OSPREY_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI, ext4 and
 * LevelDB. `crc` is a previous result (0 to start); the pre- and post-inversion are
 * applied inside, so osprey_crc32c_extend(osprey_crc32c_extend(0, a), b) equals the
 * checksum of a followed by b. See docs/storage.md. */

/* Uses the SSE4.2 crc32 instruction when the CPU has it, else the table version. */
uint32_t osprey_crc32c_extend(uint32_t crc, const void *data, size_t length);

/* The portable table (slicing-by-8) version; always available, used for testing. */
uint32_t osprey_crc32c_extend_portable(uint32_t crc, const void *data, size_t length);

/* 1 when osprey_crc32c_extend uses a hardware instruction, else 0. */
int osprey_crc32c_is_hardware_accelerated(void);

#endif
