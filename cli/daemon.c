// SPDX-License-Identifier: MIT
/* `sbx daemon start|stop|status`: the sbxd lifecycle by hand. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "sbx.h"

static int help_daemon(int argc, char **argv)
{
	printf("Usage: sbx daemon start [--foreground]\n"
	       "       sbx daemon stop\n"
	       "       sbx daemon status [--json]\n"
	       "\n"
	       "sbx starts sbxd on demand; these manage it by hand.\n"
	       "  start         start sbxd in the background (--foreground: run it here,\n"
	       "                for a service manager)\n"
	       "  stop          stop sbxd; enforcement stays in the kernel while it is down\n"
	       "  status        show whether sbxd runs, its pid, paths and policy;\n"
	       "                exits 3 when it is not running\n");
	return EXIT_OK;
}

static int help_start(void)
{
	printf("Usage: sbx daemon start [--foreground]\n"
	       "\n"
	       "Starts sbxd in the background, or says that it already runs. --foreground\n"
	       "runs it in place instead, logging to stderr, for a service manager.\n");
	return EXIT_OK;
}

static int help_stop(void)
{
	printf("Usage: sbx daemon stop\n"
	       "\n"
	       "Stops sbxd (needs root, or the user sbxd runs as). Sandboxes stay confined\n"
	       "while it is down: their connections are refused until it is back.\n");
	return EXIT_OK;
}

static int help_status(void)
{
	printf("Usage: sbx daemon status [--json]\n"
	       "\n"
	       "Shows whether sbxd runs, its pid, version, uptime, policy and paths; exits 3\n"
	       "when it is not running. --json prints {\"running\": true|false, \"pid\",\n"
	       "\"version\", \"instance\", \"state_dir\", \"run_dir\", \"bpf_dir\", \"default\",\n"
	       "\"rules\", \"started\", \"uptime\"} (see sbxd(8)).\n");
	return EXIT_OK;
}

static int do_start(int argc, char **argv)
{
	cJSON *reply;
	int fd, ret;

	if (argc > 0 && is_help(argv[0]))
		return help_start();
	if (argc > 0 && strcmp(argv[0], "--foreground") == 0)
		return daemon_spawn(true);
	if (argc > 0)
		return p_err(EXIT_USAGE, "unknown argument '%s'", argv[0]);
	if (daemon_connect(&fd) == 0) {
		close(fd);
		printf("sbxd is already running\n");
		return EXIT_OK;
	}
	ret = daemon_call("status", cJSON_CreateObject(), true, &reply);
	if (ret)
		return ret;
	printf("sbxd started (pid %d)\n", cJSON_GetObjectItem(reply, "pid")->valueint);
	cJSON_Delete(reply);
	return EXIT_OK;
}

static int do_stop(int argc, char **argv)
{
	cJSON *reply;
	int fd, ret;

	if (argc > 0 && is_help(argv[0]))
		return help_stop();
	if (argc > 0)
		return p_err(EXIT_USAGE, "unknown argument '%s'", argv[0]);
	ret = daemon_connect(&fd);
	if (ret == -EACCES)
		return p_err(EXIT_FAIL, "permission denied on %s (run as root)", paths.sock);
	if (ret) {
		printf("sbxd is not running\n");
		return EXIT_OK;
	}
	close(fd);
	ret = daemon_call("stop", cJSON_CreateObject(), false, &reply);
	if (ret)
		return ret;
	cJSON_Delete(reply);
	if (daemon_wait_exit(10000))
		return p_err(EXIT_FAIL, "sbxd did not exit within 10 s");
	printf("sbxd stopped\n");
	return EXIT_OK;
}

static int do_status(int argc, char **argv)
{
	cJSON *reply;
	int fd, ret;

	reset_opts(argc, argv); /* --json anywhere: errors in JSON too */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json_output = true;
		else if (is_help(argv[i]))
			return help_status();
		else
			return p_err(EXIT_USAGE, "unknown argument '%s'", argv[i]);
	}
	ret = daemon_connect(&fd);
	if (ret == -EACCES)
		return p_err(EXIT_FAIL, "permission denied on %s (run as root)", paths.sock);
	if (ret) {
		if (json_output) {
			cJSON *j = cJSON_CreateObject();

			cJSON_AddBoolToObject(j, "running", 0);
			print_json(j);
		} else {
			printf("sbxd is not running\n");
		}
		return 3;
	}
	close(fd);
	ret = daemon_call("status", cJSON_CreateObject(), false, &reply);
	if (ret)
		return ret;
	cJSON_DeleteItemFromObject(reply, "ok");
	if (json_output) {
		cJSON_AddBoolToObject(reply, "running", 1);
		print_json(reply);
		return EXIT_OK;
	}
	printf("sbxd is running\n");
	printf("  pid:       %d\n", cJSON_GetObjectItem(reply, "pid")->valueint);
	printf("  version:   %s\n", cJSON_GetObjectItem(reply, "version")->valuestring);
	printf("  uptime:    %d s\n", cJSON_GetObjectItem(reply, "uptime")->valueint);
	printf("  policy:    %s, %d rules\n", cJSON_GetObjectItem(reply, "default")->valuestring,
	       cJSON_GetObjectItem(reply, "rules")->valueint);
	printf("  instance:  %s\n", cJSON_GetObjectItem(reply, "instance")->valuestring);
	printf("  state:     %s\n", cJSON_GetObjectItem(reply, "state_dir")->valuestring);
	printf("  run:       %s\n", cJSON_GetObjectItem(reply, "run_dir")->valuestring);
	cJSON_Delete(reply);
	return EXIT_OK;
}

static const struct cmd daemon_cmds[] = {
	{ "start", do_start },
	{ "stop", do_stop },
	{ "status", do_status },
	{ "help", help_daemon },
	{ 0 },
};

int do_daemon(int argc, char **argv)
{
	return cmd_select("sbx daemon", daemon_cmds, argc, argv, help_daemon);
}
