/*
 * Loads site_factor/rl through Slurm's own plugin loader
 * (plugin_load_and_link in libslurmfull, as slurmctld does), then calls
 * its entry points on fabricated job records.
 *
 * The plugin takes job_list and cluster_cpus from slurmctld; this program
 * defines them itself and is linked with -rdynamic so that the plugin
 * (linked with BIND_NOW) resolves them here, and everything else in
 * libslurmfull. It owns no logic of the plugin: tests/plugin_load.sh
 * checks what it prints.
 *
 * Usage: plugin_load PLUGIN_DIR PARAMS
 * Prints "job <id> site_factor <value>" lines, then "OK".
 */
#include "config.h"
#include "src/common/slurm_xlator.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "src/common/list.h"
#include "src/common/log.h"
#include "src/common/plugin.h"
#include "src/common/read_config.h"
#include "src/slurmctld/slurmctld.h"

/* slurmctld's globals that the plugin uses. */
List job_list = NULL;
uint32_t cluster_cpus = 256;

static job_record_t *fake_job(uint32_t id, time_t submit, uint32_t cpus,
			      uint32_t limit_min)
{
	job_record_t *j = calloc(1, sizeof(*j));
	struct job_details *d = calloc(1, sizeof(*d));
	if (!j || !d)
		exit(2);
	d->submit_time = submit;
	d->begin_time = submit;
	d->min_cpus = cpus;
	d->min_nodes = 1;
	d->num_tasks = cpus;
	d->nice = NICE_OFFSET;
	j->details = d;
	j->job_id = id;
	j->job_state = JOB_PENDING;
	j->time_limit = limit_min;
	j->site_factor = 0;
	return j;
}

int main(int argc, char **argv)
{
	log_options_t lo = LOG_OPTS_STDERR_ONLY;
	const char *names[] = { "site_factor_p_reconfig", "site_factor_p_set",
				"site_factor_p_update" };
	void *ptrs[3] = { NULL, NULL, NULL };
	void (*reconfig)(void);
	void (*set)(job_record_t *);
	void (*update)(void);
	plugin_handle_t h;
	time_t now = time(NULL);
	job_record_t *jobs[4];
	int i;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PLUGIN_DIR PARAMS\n", argv[0]);
		return 2;
	}
	log_init("plugin_load", lo, 0, NULL);
	slurm_conf.plugindir = argv[1];
	slurm_conf.site_factor_params = argv[2][0] ? argv[2] : NULL;
	slurm_conf.priority_weight_fs = 1000;
	slurm_conf.priority_weight_qos = 1000;

	h = plugin_load_and_link("site_factor/rl", 3, names, ptrs);
	if (h == PLUGIN_INVALID_HANDLE) {
		printf("FAIL: plugin_load_and_link: %s\n",
		       plugin_strerror(errno));
		return 1;
	}
	reconfig = (void (*)(void)) ptrs[0];
	set = (void (*)(job_record_t *)) ptrs[1];
	update = (void (*)(void)) ptrs[2];

	job_list = list_create(NULL);
	for (i = 0; i < 3; i++) {
		jobs[i] = fake_job(101 + i, now - 600 * (i + 1), 1 + 15 * i,
				   30 * (i + 1));
		list_append(job_list, jobs[i]);
	}
	update();
	for (i = 0; i < 3; i++)
		printf("job %u site_factor %u\n", jobs[i]->job_id,
		       jobs[i]->site_factor);

	/* A submission: set() on a job that is not in job_list yet. */
	jobs[3] = fake_job(200, now, 4, 60);
	set(jobs[3]);
	printf("job %u site_factor %u\n", jobs[3]->job_id,
	       jobs[3]->site_factor);

	/* Null job, reconfigure, and the calls again after it. */
	set(NULL);
	reconfig();
	update();
	plugin_unload(h);
	printf("OK\n");
	return 0;
}
