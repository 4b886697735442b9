using System.Text.Json;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Cli;

public sealed class CliTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Server_serves_until_SIGTERM_then_stops_gracefully_with_exit_0()
    {
        var (server, endpoint) = await ChildProcess.StartServerAsync("--bind", "tcp://127.0.0.1:*", "--name", "cli-server");
        await using (server)
        {
            var (exit, stdout, stderr) = await ChildProcess.RunAsync(Bound, "request", "--connect", endpoint, "--service", "whoami");
            Assert.True(exit == 0, stderr);
            Assert.Equal("cli-server", stdout.Trim());

            server.Signal("TERM");
            Assert.Equal(0, await server.WaitForExitAsync(Bound));
            Assert.Contains("stopped", server.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_second_SIGTERM_ends_a_server_whose_drain_waits_for_a_long_handler()
    {
        var (server, endpoint) = await ChildProcess.StartServerAsync(
            "--bind", "tcp://127.0.0.1:*", "--delay", "1h", "--drain-timeout", "1h", "--log-level", "Information",
            "--metrics-port", "*", "--metrics-host", "127.0.0.1");
        await using (server)
        {
            await server.WaitForOutputAsync("metrics on http://");
            var metrics = System.Text.RegularExpressions.Regex.Match(server.Stdout, @"metrics on (http://\S+/metrics)").Groups[1].Value;
            await using var client = new Courier.Client.CourierClient(Courier.Client.CourierClientOptions.Default with
            {
                Endpoints = [endpoint],
                Timeout = TimeSpan.FromMinutes(5),
                Retries = 0,
            });
            var held = client.RequestAsync("echo", "held");
            using var http = new HttpClient();
            await Poll.UntilAsync(
                async () => System.Text.RegularExpressions.Regex.IsMatch(await http.GetStringAsync(metrics), @"(?m)^courier_server_active_requests(\{[^}]*\})? 1\b"),
                Bound, "the request in its handler");

            // The first: a graceful stop, which would wait an hour for that handler. SIGTERM, as Kubernetes and compose send it
            // (and SIGINT the same way): a test run in the background, as CI's, starts its children with SIGINT ignored.
            server.Signal("TERM");
            await Poll.UntilAsync(() => server.Stderr.Contains("stopping: 1 request(s) in flight", StringComparison.Ordinal), Bound, "the drain begun");
            Assert.False(server.HasExited);

            server.Signal("TERM");
            Assert.Equal(143, await server.WaitForExitAsync(Bound));
            Assert.False(held.IsCompletedSuccessfully);
        }
    }

    [Fact]
    public async Task Server_with_an_unbindable_endpoint_exits_2_with_one_line()
    {
        // Well formed, so the CLI lets it through; 192.0.2.1 (TEST-NET-1) is no address of this machine.
        var (exit, _, stderr) = await ChildProcess.RunAsync(Bound, "server", "--bind", "tcp://192.0.2.1:5555");

        Assert.Equal(2, exit);
        Assert.StartsWith("courier: error: Cannot bind tcp://192.0.2.1:5555", stderr.Trim(), StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task Request_prints_each_reply_frame_on_its_own_line()
    {
        await using var server = await TestServer.StartAsync();

        var (exit, stdout, stderr) = await ChildProcess.RunAsync(Bound, "request", "--connect", server.Endpoint!, "hello", "world");

        Assert.True(exit == 0, stderr);
        Assert.Equal(["hello", "world"], stdout.Trim().Split('\n'));
    }

    [Fact]
    public async Task Request_with_no_server_exits_non_zero_naming_the_timeout()
    {
        using var nobody = PortReservation.Any();
        var (exit, stdout, stderr) = await ChildProcess.RunAsync(Bound, "request", "--connect", nobody.Endpoint, "--timeout", "200ms", "--retries", "1", "x");

        Assert.Equal(3, exit);
        Assert.Empty(stdout.Trim());
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(stderr.Trim(), @"^courier: error: Request to service 'echo' timed out after 2 attempt\(s\)"), stderr);
    }

    [Fact]
    public async Task Request_to_a_host_that_does_not_resolve_exits_3_like_a_timeout()
    {
        // Well formed, so the CLI lets it through; the managed transport refuses it (unreachable), libzmq keeps trying
        // (a timeout): nothing answered either way.
        var (exit, stdout, stderr) = await ChildProcess.RunAsync(Bound, "request", "--connect", "tcp://nosuch.invalid:5555", "--timeout", "300ms", "--retries", "0");

        Assert.True(exit == 3, $"exit {exit}: {stderr}");
        Assert.Empty(stdout.Trim());
        Assert.StartsWith("courier: error: ", Assert.Single(stderr.Trim().Split('\n')), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_for_an_unknown_service_exits_non_zero_with_the_remote_error()
    {
        await using var server = await TestServer.StartAsync();

        var (exit, _, stderr) = await ChildProcess.RunAsync(Bound, "request", "--connect", server.Endpoint!, "--service", "nosuch", "x");

        Assert.Equal(4, exit);
        Assert.Contains("404", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_rejects_a_malformed_duration()
    {
        var (exit, _, stderr) = await ChildProcess.RunAsync(Bound, "request", "--connect", "tcp://127.0.0.1:1", "--timeout", "soon");

        Assert.Equal(2, exit);
        Assert.Equal("courier: error: --timeout: 'soon' is not a duration; write it like 500ms, 2.5s or 1m", stderr.Trim());
    }

    [Fact]
    public async Task Bench_prints_a_summary_and_a_json_line_with_every_request_accounted_for()
    {
        await using var server = await TestServer.StartAsync();

        var (exit, stdout, stderr) = await ChildProcess.RunAsync(
            Bound, "bench", "--connect", server.Endpoint!, "--clients", "2", "--inflight", "10", "--duration", "1s", "--size", "32", "--json");

        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var root = json.RootElement;
        Assert.True(root.GetProperty("requests").GetInt64() > 0);
        Assert.Equal(0, root.GetProperty("errors").GetInt64());
        Assert.True(root.GetProperty("rps").GetDouble() > 0);
        foreach (var name in new[] { "seconds", "p50_us", "p90_us", "p99_us", "p999_us", "max_us" })
        {
            Assert.True(root.TryGetProperty(name, out _), name);
        }

        Assert.True(root.GetProperty("p50_us").GetInt64() <= root.GetProperty("p99_us").GetInt64());
        Assert.Contains("req/s", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_does_not_count_the_requests_of_its_warmup()
    {
        var handled = 0L;
        await using var server = await TestServer.StartAsync(map: s => s.Map("count", (request, _) =>
        {
            Interlocked.Increment(ref handled);
            return ValueTask.FromResult(request.Frames);
        }));

        var (exit, stdout, stderr) = await ChildProcess.RunAsync(
            Bound, "bench", "--connect", server.Endpoint!, "--service", "count", "--clients", "1", "--inflight", "2",
            "--warmup", "2s", "--duration", "200ms", "--json");

        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var root = json.RootElement;
        var counted = root.GetProperty("requests").GetInt64();
        Assert.True(counted > 0, "nothing was counted after the warm-up");
        Assert.Equal(0, root.GetProperty("errors").GetInt64());
        // The warm-up's requests were served but not counted, and its time is not in the measured seconds.
        Assert.True(Interlocked.Read(ref handled) > counted, $"handled {handled}, counted {counted}: the warm-up sent nothing");
        Assert.True(root.GetProperty("seconds").GetDouble() < 2, $"seconds {root.GetProperty("seconds")} include the warm-up");
    }

    [Fact]
    public async Task Bench_with_no_server_exits_non_zero_counting_the_errors()
    {
        using var nobody = PortReservation.Any();
        var (exit, stdout, stderr) = await ChildProcess.RunAsync(
            Bound, "bench", "--connect", nobody.Endpoint, "--clients", "1", "--inflight", "2", "--duration", "300ms", "--timeout", "100ms", "--retries", "0", "--json");

        Assert.Equal(3, exit);
        Assert.Contains("no request succeeded", stderr, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        Assert.Equal(0, json.RootElement.GetProperty("requests").GetInt64());
        Assert.True(json.RootElement.GetProperty("errors").GetInt64() >= 2);
    }

    [Fact]
    public async Task Demo_runs_end_to_end()
    {
        // The demo starts three worker processes of its own and waits up to 90 s for them on a busy machine.
        var (exit, stdout, stderr) = await ChildProcess.RunAsync(TimeSpan.FromSeconds(150), "demo", "--duration", "2s");

        Assert.True(exit == 0, stderr + stdout);
        Assert.Contains("killed medium", stdout, StringComparison.Ordinal);
        Assert.Contains("errors 0", stdout, StringComparison.Ordinal);
        Assert.Contains("no request was lost", stdout, StringComparison.Ordinal);
        Assert.Contains("1,000 replies matched their requests", stdout, StringComparison.Ordinal);
        Assert.Contains("answered 500", stdout, StringComparison.Ordinal);
        Assert.Contains("answered 404", stdout, StringComparison.Ordinal);
        Assert.Contains("CourierTimeoutException", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Broker_and_worker_serve_a_request_and_stop_on_SIGTERM()
    {
        var (broker, endpoint) = await ChildProcess.StartBrokerAsync("--bind", "tcp://127.0.0.1:*");
        await using var _ = broker;
        await using var worker = ChildProcess.Start("worker", "--connect", endpoint, "--service", "whoami", "--name", "cli-worker");
        await worker.WaitForOutputAsync("serving whoami");

        var (exit, stdout, stderr) = await ChildProcess.RunAsync(Bound, "request", "--connect", endpoint, "--service", "whoami", "--timeout", "5s");
        Assert.True(exit == 0, stderr);
        Assert.Equal("cli-worker", stdout.Trim());

        worker.Signal("TERM");
        Assert.Equal(0, await worker.WaitForExitAsync(Bound));
        broker.Signal("TERM");
        Assert.Equal(0, await broker.WaitForExitAsync(Bound));
    }

    [Fact]
    public async Task Worker_serves_every_service_it_is_given_on_one_connection_to_a_courier_broker()
    {
        var (broker, endpoint) = await ChildProcess.StartBrokerAsync("--bind", "tcp://127.0.0.1:*");
        await using var _ = broker;
        await using var worker = ChildProcess.Start("worker", "--connect", endpoint, "--service", "echo", "--service", "whoami", "--name", "both");
        await worker.WaitForOutputAsync("serving echo (echo), whoami (whoami)");
        await using var client = TestServer.Client(endpoint);
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);
        await TestBroker.WaitForWorkersAsync(client, "whoami", 1);

        Assert.Equal("both", (await client.RequestAsync("whoami", "")).BodyText);
        Assert.Equal("x", (await client.RequestAsync("echo", "x")).BodyText);
        var echo = Assert.Single(await TestBroker.WorkersAsync(client, "echo"));
        Assert.Equal((echo.Id, "both"), (Assert.Single(await TestBroker.WorkersAsync(client, "whoami")).Id, echo.Name));
    }

    [Fact]
    public async Task Worker_on_SIGTERM_cancels_a_running_request_when_its_drain_timeout_runs_out()
    {
        var (broker, endpoint) = await ChildProcess.StartBrokerAsync("--bind", "tcp://127.0.0.1:*");
        await using var _ = broker;
        var record = Path.GetTempFileName();
        try
        {
            // --record makes the service at-most-once, so its cancelled caller is told 520 (outcome unknown).
            await using var worker = ChildProcess.Start(
                "worker", "--connect", endpoint, "--service", "slow", "--delay", "1h", "--drain-timeout", "0s", "--record", record);
            await worker.WaitForOutputAsync("serving slow");
            await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });
            await TestBroker.WaitForWorkersAsync(client, "slow", 1);
            var request = client.RequestAsync("slow", "running");
            await Poll.UntilAsync(() => File.ReadAllText(record).Contains("running", StringComparison.Ordinal), what: "the handler to start");

            worker.Signal("TERM");

            Assert.Equal(0, await worker.WaitForExitAsync(Bound));
            Assert.Contains("stopped", worker.Stdout, StringComparison.Ordinal);
            await Assert.ThrowsAsync<CourierOutcomeUnknownException>(() => request.WaitAsync(Bound));
        }
        finally
        {
            File.Delete(record);
        }
    }

    [Fact]
    public async Task Worker_rejects_a_reply_it_does_not_have()
    {
        var (exit, _, stderr) = await ChildProcess.RunAsync(Bound, "worker", "--connect", "tcp://127.0.0.1:1", "--service", "anyname", "--reply", "nosuch");

        Assert.Equal(2, exit);
        Assert.Equal("courier: error: --reply: 'nosuch' is not one of echo, whoami", stderr.Trim());
    }

    [Fact]
    public void Courier_runs_with_tier1_code_soon_and_optimized_loops_from_the_start()
    {
        // docs/performance.md: without these a fresh process serves light traffic from unoptimized code for seconds.
        var path = Path.ChangeExtension(ChildProcess.CliDll, ".runtimeconfig.json");
        using var config = JsonDocument.Parse(File.ReadAllText(path));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.Equal(0, properties.GetProperty("System.Runtime.TieredCompilation.CallCountingDelayMs").GetInt32());
        Assert.False(properties.GetProperty("System.Runtime.TieredCompilation.QuickJitForLoops").GetBoolean());
        Assert.True(properties.GetProperty("System.Runtime.TieredPGO").GetBoolean());
    }
}
