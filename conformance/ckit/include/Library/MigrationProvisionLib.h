/*
 * Ours, not EDK2 (the mhmailbox C kit): how a hardened helper learns what the two helpers of a
 * migration share and no host knows: the 32-byte transfer key and the 16-byte session id of the
 * current provisioning (in a deployment: from an attested key exchange; in a test: the suite).
 * EFI_NOT_READY when nothing is provisioned.
 */
#ifndef MH_MIGRATION_PROVISION_LIB_H
#define MH_MIGRATION_PROVISION_LIB_H
#include <Uefi.h>

#define MIGRATION_TRANSFER_KEY_SIZE 32
#define MIGRATION_SESSION_ID_SIZE 16

EFI_STATUS EFIAPI MigrationProvisionGet(OUT UINT8 *TransferKey, OUT UINT8 *SessionId);
#endif
