/* placeholder: being written */
typedef int pds_placeholder_pds_cert_t;
