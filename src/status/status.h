/* status.h - `datapipe status`: where the pipeline stands, read from the
 * real systems (PostgreSQL slot, Kafka offsets, S3 objects). */
#ifndef DP_STATUS_STATUS_H
#define DP_STATUS_STATUS_H

int status_main(int argc, char **argv);

#endif
