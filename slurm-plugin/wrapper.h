/*
 * The slurmctld headers that site_factor/rl is built against, in the order
 * a site_factor plugin in Slurm's tree includes them. build.rs runs bindgen
 * over this file with the configured source tree on the include path.
 */
#include "config.h"
#include "src/common/slurm_xlator.h"
#include "src/common/log.h"
#include "src/common/list.h"
#include "src/slurmctld/slurmctld.h"
