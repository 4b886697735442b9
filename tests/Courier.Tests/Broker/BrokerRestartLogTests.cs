using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Worker;
using Microsoft.Extensions.Logging;

namespace Courier.Tests.Broker;

/// <summary>A broker restart is routine: the worker and the new broker log it as such, not as warnings or violations.</summary>
public sealed class BrokerRestartLogTests
{
    [Theory]
    [InlineData(false, false)] // back at once: the worker's next heartbeat reaches the new broker, which says DISCONNECT
    [InlineData(true, false)] // away past the worker's liveness: the worker reconnects to nothing, then to the new broker
    [InlineData(false, true)] // a managed (NetMQ) broker, whose socket sends its peers a farewell frame as it closes
    public async Task Broker_restart_logs_no_warning_on_the_worker_or_the_new_broker(bool longOutage, bool managedBroker)
    {
        using var workerLog = new RecordingLoggerFactory();
        using var brokerLog = new RecordingLoggerFactory();
        var first = await TestBroker.StartAsync(o => managedBroker ? o with { Transport = o.Transport with { Implementation = TransportImplementation.Managed } } : o);
        var endpoint = first.Endpoint!;
        await using var worker = new CourierWorker(TestBroker.WorkerOptions(endpoint, "survivor") with { LoggerFactory = workerLog, HeartbeatLiveness = TestBroker.QuickLiveness })
            .Map("alpha", TestBroker.Tagged("alpha"))
            .Map("beta", TestBroker.Tagged("beta"));
        await worker.StartAsync();
        await using (var client = TestServer.Client(endpoint))
        {
            await TestBroker.WaitForWorkersAsync(client, "beta", 1);
            Assert.Equal("alpha", (await client.RequestAsync("alpha", "before")).BodyText);
        }

        await first.DisposeAsync();
        // The new broker binds the same port: held from now on so that nothing else takes it meanwhile.
        using var port = await PortReservation.RetakeAsync(endpoint);
        if (longOutage)
        {
            // Lost the broker, and a first reconnect found nobody to answer its probe.
            await Poll.UntilAsync(() => workerLog.Contains("(no answer from the broker)"), what: "a reconnect to no broker");
        }

        await using var second = await TestBroker.StartAsync(o => o with { Endpoint = endpoint, LoggerFactory = brokerLog });
        port.Dispose();

        await using (var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(5) }))
        {
            await TestBroker.WaitForWorkersAsync(client, "alpha", 1);
            await TestBroker.WaitForWorkersAsync(client, "beta", 1);
            Assert.Equal("alpha", (await client.RequestAsync("alpha", "after")).BodyText);
            Assert.Equal("beta", (await client.RequestAsync("beta", "after")).BodyText);

            // Registered again as it was: one connection, both services, by name.
            var alpha = Assert.Single(await TestBroker.WorkersAsync(client, "alpha"));
            var beta = Assert.Single(await TestBroker.WorkersAsync(client, "beta"));
            Assert.Equal((alpha.Id, "survivor"), (beta.Id, alpha.Name));
        }

        Assert.True(workerLog.Contains("lost the broker"), workerLog.AtLeast(LogLevel.Debug));
        Assert.True(workerLog.AtLeast(LogLevel.Warning).Length == 0, workerLog.AtLeast(LogLevel.Debug));
        Assert.True(brokerLog.AtLeast(LogLevel.Warning).Length == 0, brokerLog.AtLeast(LogLevel.Debug));
    }
}
