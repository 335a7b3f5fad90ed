/* placeholder: being written */
typedef int pds_placeholder_pds_jws_t;
