using Courier.Client;
using Courier.Tests.Infrastructure;
using Courier.Tests.Integration;

namespace Courier.Tests.Interop;

/// <summary>
/// Courier against third-party 7/MDP code on libzmq: pyzmq client, worker and broker written from the spec (Interop/*.py).
/// </summary>
public sealed class MdpInteropTests
{
    [SkippableFact]
    public async Task Courier_broker_serves_a_pyzmq_client_through_a_pyzmq_worker()
    {
        StockClientTests.SkipUnlessPyzmq();
        await using var broker = await StartBrokerForPyzmqWorkerAsync();
        await using var worker = ChildProcess.StartPython("mdp_worker.py", broker.Endpoint!, "py-echo", "pyworker");
        await worker.WaitForOutputAsync("worker ready");
        await using var observer = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(observer, "py-echo", 1);

        var (exit, stdout, stderr) = await RunToEndAsync(ChildProcess.StartPython("mdp_client.py", broker.Endpoint!, "py-echo", "one", "two", "three"));

        Assert.True(exit == 0, stderr);
        Assert.Equal(["pyworker|one", "pyworker|two", "pyworker|three"], stdout.Trim().Split('\n'));
    }

    [SkippableFact]
    public async Task Courier_client_pipelines_through_the_courier_broker_to_a_plain_pyzmq_worker()
    {
        StockClientTests.SkipUnlessPyzmq();
        await using var broker = await StartBrokerForPyzmqWorkerAsync();
        await using var worker = ChildProcess.StartPython("mdp_worker.py", broker.Endpoint!, "py-echo", "pyworker");
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, "py-echo", 1);

        var replies = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => client.RequestAsync("py-echo", $"{i}")));

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"{i}"), replies.Select(r => System.Text.Encoding.UTF8.GetString(r.Frames[1].Span)));
    }

    [SkippableFact]
    public async Task Courier_worker_and_client_work_through_a_pyzmq_broker_with_default_options()
    {
        StockClientTests.SkipUnlessPyzmq();
        await using var broker = ChildProcess.StartPython("mdp_broker.py", "tcp://127.0.0.1:*");
        var endpoint = await broker.WaitForEndpointAsync();
        await using var worker = await TestBroker.StartWorkerAsync(endpoint, "courier-worker", configure: o => o with { HeartbeatInterval = TimeSpan.FromSeconds(2.5) });

        // Default options: the client asks the broker (mmi.courier), hears 501, and speaks plain 7/MDP.
        await using var client = new CourierClient(CourierClientOptions.Default with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(5) });
        var replies = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => client.RequestAsync("echo", $"{i}")));
        Assert.All(replies, r => Assert.Equal("courier-worker", r.BodyText));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"{i}"), replies.Select(r => System.Text.Encoding.UTF8.GetString(r.Frames[1].Span)));

        var (exit, stdout, stderr) = await ChildProcess.RunAsync(TimeSpan.FromSeconds(60), "request", "--connect", endpoint, "--service", "echo", "from-cli");
        Assert.True(exit == 0, stderr);
        Assert.Equal(["courier-worker", "from-cli"], stdout.Trim().Split('\n'));
        Assert.False(broker.HasExited, broker.Stderr);
    }

    [SkippableFact]
    public async Task Pyzmq_client_gets_replies_from_a_courier_worker_through_a_pyzmq_broker()
    {
        StockClientTests.SkipUnlessPyzmq();
        await using var broker = ChildProcess.StartPython("mdp_broker.py", "tcp://127.0.0.1:*");
        var endpoint = await broker.WaitForEndpointAsync();
        await using var worker = await TestBroker.StartWorkerAsync(endpoint, "courier-worker", configure: o => o with { HeartbeatInterval = TimeSpan.FromSeconds(2.5) });

        var (exit, stdout, stderr) = await RunToEndAsync(ChildProcess.StartPython("mdp_client.py", endpoint, "echo", "a", "b"));

        Assert.True(exit == 0, stderr);
        Assert.Equal(["courier-worker|a", "courier-worker|b"], stdout.Trim().Split('\n'));
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunToEndAsync(ChildProcess process)
    {
        await using (process)
        {
            var exit = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
            return (exit, process.Stdout, process.Stderr);
        }
    }

    /// <summary>
    /// A broker heartbeating every 2.5 s, as the pyzmq worker does (the spec's default): one at the tests' 500 ms dropped
    /// that worker whenever it was idle.
    /// </summary>
    private static Task<Courier.Broker.CourierBroker> StartBrokerForPyzmqWorkerAsync()
        => TestBroker.StartAsync(o => o with { HeartbeatInterval = TimeSpan.FromSeconds(2.5) });
}
