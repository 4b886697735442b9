using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

/// <summary>No single peer to lose: clients spread over several brokers or servers and fail over when one dies or freezes.</summary>
public sealed class FailoverProcessTests
{
    [Fact]
    public async Task Losing_one_of_two_brokers_to_SIGKILL_under_load_costs_idempotent_callers_nothing()
    {
        var (first, a) = await ChildProcess.StartBrokerAsync("--bind", "tcp://127.0.0.1:*", "--heartbeat", "500ms");
        await using var _ = first;
        var (second, b) = await ChildProcess.StartBrokerAsync("--bind", "tcp://127.0.0.1:*", "--heartbeat", "500ms");
        await using var __ = second;
        // Each worker serves both brokers at once.
        await using var w1 = ChildProcess.Start("worker", "--connect", a, "--connect", b, "--name", "w1", "--heartbeat", "500ms");
        await using var w2 = ChildProcess.Start("worker", "--connect", a, "--connect", b, "--name", "w2", "--heartbeat", "500ms");
        await w1.WaitForOutputAsync("serving");
        await w2.WaitForOutputAsync("serving");
        await using var observerA = TestServer.Client(a);
        await using var observerB = TestServer.Client(b);
        await TestBroker.WaitForWorkersAsync(observerA, "echo", 2);
        await TestBroker.WaitForWorkersAsync(observerB, "echo", 2);

        await using var load = Load.Start(Enumerable.Range(0, 4).Select(_ => TestServer.Client(a, o => o with { Endpoints = [a, b], Timeout = TimeSpan.FromSeconds(2), Retries = 3 })));
        await load.UntilServedAsync(2000);
        // Both brokers carry load before one dies.
        Assert.True((await TestBroker.StatsAsync(observerB, "echo")).Served > 0);

        first.Signal("KILL");
        await first.WaitForExitAsync(TimeSpan.FromSeconds(10));
        await load.UntilServedAsync(load.Served + 3000);

        Assert.Empty(await load.StopAsync());
    }

    [Fact]
    public async Task Server_frozen_with_SIGSTOP_is_judged_dead_by_its_probe_and_its_requests_move_to_another_endpoint()
    {
        var (frozen, a) = await ChildProcess.StartServerAsync("--bind", "tcp://127.0.0.1:*", "--name", "frozen");
        await using var _ = frozen;
        var (healthy, b) = await ChildProcess.StartServerAsync("--bind", "tcp://127.0.0.1:*", "--name", "healthy");
        await using var __ = healthy;
        await using var load = Load.Start(Enumerable.Range(0, 2).Select(_ => TestServer.Client(a, o => o with { Endpoints = [a, b], Timeout = TimeSpan.FromSeconds(1), Retries = 3 })));
        await load.UntilServedAsync(2000);

        frozen.Signal("STOP");
        try
        {
            // The frozen peer's TCP connections stay open: only the probe after a timeout tells the client.
            await load.UntilServedAsync(load.Served + 3000);
            Assert.Empty(await load.StopAsync());
        }
        finally
        {
            frozen.Signal("CONT");
        }
    }
}
