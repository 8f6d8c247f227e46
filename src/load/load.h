/* load.h - `datapipe load`: the seed's e-commerce workload (inserts,
 * updates and deletes of users and products) at a target rate, with an
 * exact ledger of every change made. */
#ifndef DP_LOAD_LOAD_H
#define DP_LOAD_LOAD_H

int load_main(int argc, char **argv);

#endif
