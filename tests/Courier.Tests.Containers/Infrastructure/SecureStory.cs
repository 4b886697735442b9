namespace Courier.Tests.Containers.Infrastructure;

/// <summary>
/// deploy/docker-compose.secure.yml on real containers, after the plain stacks are down: the one-shot keygen, three
/// CURVE servers behind nginx turning healthy with their keyed health checks, then requests through nginx with each
/// role's keys and without any, and what each role's container holds under /keys; last, <c>down</c>.
/// </summary>
public sealed class SecureStory
{
    private static readonly TimeSpan Minutes = TimeSpan.FromMinutes(3);

    /// <summary>The secure override after the base file and the test's own (relative paths in it resolve from deploy/).</summary>
    private static readonly string[] Secure = ["-f", Path.Combine(Courier.Tests.Infrastructure.Repo.Root, "deploy", "docker-compose.secure.yml")];

    /// <summary>The client's key through nginx: what <c>request --service whoami</c> exited with and printed.</summary>
    public required ComposeFixture.Result WithClientKey { get; init; }

    /// <summary>The same request without keys (plain text against CURVE listeners).</summary>
    public required ComposeFixture.Result WithoutKeys { get; init; }

    /// <summary>The same request with the worker's key, which the policy lets serve echo and ask mmi.service only.</summary>
    public required ComposeFixture.Result WithWorkerKey { get; init; }

    /// <summary>The file names under /keys in each role's container: client, worker and server (a listener).</summary>
    public required IReadOnlyDictionary<string, string[]> KeyFiles { get; init; }

    public static async Task<SecureStory> RunAsync(ComposeFixture stack, StoryLog log)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            // keygen runs first (the servers depend on its success); then the servers turn healthy with their keyed checks.
            await stack.ComposeOkAsync(Minutes, [.. Secure, "up", "-d", "server", "nginx"]);
            await Task.WhenAll(stack.WaitHealthyAsync("server", 3), stack.WaitHealthyAsync("nginx", 1));
            log.Line($"secure: keys made, servers and nginx up and healthy after {clock.Elapsed.TotalSeconds:F1} s");

            // 10 s an attempt, as ComposeStory's requests: a starved 2-core machine answers slowly. A handshake without keys
            // is never answered, so that request ends in its own timeout: one attempt of 3 s.
            string[] Whoami(params string[] keys) =>
                ["request", "--connect", "tcp://nginx:5555", "--service", "whoami", .. (keys.Length > 0 ? (string[])["--timeout", "10s", "--retries", "2"] : ["--timeout", "3s", "--retries", "0"]), .. keys];
            var withClientKey = await stack.ComposeAsync(
                Minutes, [.. Secure, "run", "--rm", "-T", "client", .. Whoami("--curve-secret", "/keys/client.key_secret", "--curve-server", "/keys/server.key")]);
            var withoutKeys = await stack.ComposeAsync(Minutes, [.. Secure, "run", "--rm", "-T", "client", .. Whoami()]);
            // --no-deps: the worker's service would start the broker it depends on.
            var withWorkerKey = await stack.ComposeAsync(
                Minutes, [.. Secure, "--profile", "broker", "run", "--rm", "--no-deps", "-T", "worker",
                    .. Whoami("--curve-secret", "/keys/worker.key_secret", "--curve-server", "/keys/server.key")]);
            log.Line($"secure: requests made after {clock.Elapsed.TotalSeconds:F1} s (exit codes {withClientKey.ExitCode}, {withoutKeys.ExitCode}, {withWorkerKey.ExitCode})");

            const string List = "cd /keys && find . -type f | sort";
            var files = new Dictionary<string, string[]>();
            foreach (var service in new[] { "client", "worker" })
            {
                files[service] = Lines(await stack.ComposeOkAsync(
                    Minutes, [.. Secure, "--profile", "broker", "run", "--rm", "--no-deps", "-T", "--entrypoint", "sh", service, "-c", List]));
            }

            // A running server's own view (a `run` of a service with replicas up is refused by podman: "link is not supported").
            files["server"] = Lines(await stack.EngineOkAsync(Minutes, "exec", (await stack.ContainersAsync("server"))[0], "sh", "-c", List));
            return new SecureStory { WithClientKey = withClientKey, WithoutKeys = withoutKeys, WithWorkerKey = withWorkerKey, KeyFiles = files };
        }
        finally
        {
            await stack.ComposeAsync(Minutes, [.. Secure, .. Commands.Down]);
            log.Line($"secure: down after {clock.Elapsed.TotalSeconds:F1} s");
        }
    }

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
