using Courier.Client;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Broker;

/// <summary>
/// At-most-once through a broker (courier/5, docs/protocol.md §8), with real worker processes stopped (SIGSTOP) past
/// their liveness while holding requests, then resumed: a request that is not idempotent never runs twice; one that is
/// goes to another worker.
/// </summary>
public sealed class AtMostOnceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("courier-amo-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string[] WorkerArgs(string endpoint, string name, string delay, string? record)
        => ["worker", "--connect", endpoint, "--name", name, "--delay", delay, "--concurrency", "50", "--heartbeat", "500ms", "--liveness", "3",
            .. record is null ? Array.Empty<string>() : ["--record", record]];

    [Fact]
    public async Task A_stalled_worker_resumed_never_runs_a_non_idempotent_request_twice_and_callers_get_the_reply_or_outcome_unknown()
    {
        var (outcomes, executions) = await StallAsync(record: true);

        // Every request ran at most once, over both workers, whatever the client's resends.
        Assert.All(executions, e => Assert.Equal(1, e.Value));
        Assert.All(outcomes, o => Assert.True(o is "reply" or "outcome unknown", o));
        Assert.Contains("outcome unknown", outcomes); // the stall outlasted liveness and the wait for a late reply
    }

    [Fact]
    public async Task A_stalled_workers_requests_to_an_idempotent_service_are_served_by_another_worker_without_client_errors()
    {
        var (outcomes, _) = await StallAsync(record: false);

        Assert.All(outcomes, o => Assert.Equal("reply", o));
    }

    /// <summary>
    /// 20 requests held by a worker that is then stopped past liveness (and past the wait for its late replies), a second
    /// worker taking over, then the first resumed. Returns each caller's outcome and, with <paramref name="record"/>,
    /// each request's executions (both workers record what their handlers start).
    /// </summary>
    private async Task<(List<string> Outcomes, Dictionary<string, int> Executions)> StallAsync(bool record)
    {
        // The stopped worker is given up after 1.5 s and its late replies after 1.5 s more: well within the callers' 21 s.
        await using var broker = await TestBroker.StartAsync(o => o with { HeartbeatLiveness = TestBroker.QuickLiveness });
        var fileA = Path.Combine(_dir, "a.log");
        var fileB = Path.Combine(_dir, "b.log");
        await using var a = ChildProcess.Start(WorkerArgs(broker.Endpoint!, "a", "1500ms", record ? fileA : null));
        // Short attempts: the client resends all of them meanwhile, as a Lazy Pirate does; at-most-once must absorb that.
        // Not shorter than 2 s: an attempt's expiry also sends a liveness probe, and a test process stalled past its
        // deadline (starting a worker process on a loaded CI machine) would judge the live broker dead.
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(2), Retries = 20 });
        // The test's own questions go on a connection of their own, patient, so that they never share the callers' probes.
        await using var observer = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(observer, "echo", 1);

        var requests = Enumerable.Range(0, 20).Select(i => client.RequestAsync("echo", $"job{i}")).ToArray();
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "echo")).InFlight == 20, what: "the worker holds 20 requests");
        if (record)
        {
            // Sent is not started: stopped before its handlers began, a worker would (rightly) run none of them later.
            await Poll.UntilAsync(() => File.Exists(fileA) && File.ReadAllLines(fileA).Length == 20, what: "the worker started all 20");
        }

        a.Signal("STOP");
        try
        {
            await using var b = ChildProcess.Start(WorkerArgs(broker.Endpoint!, "b", "10ms", record ? fileB : null));
            await Poll.UntilAsync(
                async () => (await TestBroker.WorkersAsync(observer, "echo")) is [{ Name: "b" }], what: "the stopped worker expired, the other registered");

            // Past the wait for late replies (one liveness period): what is left of a's requests is answered.
            await Poll.UntilAsync(() => requests.All(r => r.IsCompleted) || !record, TimeSpan.FromSeconds(30), "non-idempotent requests answered");
        }
        finally
        {
            a.Signal("CONT");
        }

        var outcomes = new List<string>();
        foreach (var request in requests)
        {
            try
            {
                await request.WaitAsync(TimeSpan.FromSeconds(60));
                outcomes.Add("reply");
            }
            catch (CourierOutcomeUnknownException)
            {
                outcomes.Add("outcome unknown");
            }
            catch (Exception ex)
            {
                outcomes.Add(ex.GetType().Name + ": " + ex.Message);
            }
        }

        // Nothing left with any worker: a second run of anything would have been recorded as it started.
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(observer, "echo")).InFlight == 0, what: "no request left with a worker");
        var executions = (File.Exists(fileA) ? File.ReadAllLines(fileA) : []).Concat(File.Exists(fileB) ? File.ReadAllLines(fileB) : [])
            .GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        if (record)
        {
            // a held them all before it stopped: each ran (or started) once
            Assert.True(executions.Count == 20, $"{executions.Count} requests recorded; outcomes: {string.Join("; ", outcomes.Distinct())}; a said: {a.Stdout} {a.Stderr}");
        }

        return (outcomes, executions);
    }
}
