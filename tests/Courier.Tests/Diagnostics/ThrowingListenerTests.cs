using System.Diagnostics.Metrics;
using Courier.Client;
using Courier.Diagnostics;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Diagnostics;

/// <summary>A metrics listener is the application's code, run on the client's loop: one that throws must not strand a call.</summary>
public sealed class ThrowingListenerTests
{
    [Fact]
    public async Task A_call_ends_even_when_a_metrics_listener_throws_as_its_duration_is_recorded()
    {
        // Only this test's service: other tests run beside it in this process, under the same meter.
        var service = $"throwing-{Guid.NewGuid():N}"[..20];
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == CourierDiagnostics.MeterName && instrument.Name == "rpc.client.call.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "rpc.method" && Equals(tag.Value, service))
                {
                    throw new InvalidOperationException("a listener that throws");
                }
            }
        });
        listener.Start();
        await using var server = await TestServer.StartAsync(map: s => s.Map(service, (r, _) => ValueTask.FromResult(r.Frames)));
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromMinutes(1), Retries = 0 });

        // Removed from the client's table before its duration was recorded, the call was never completed.
        var reply = await client.RequestAsync(service, "x").WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal("x", reply.BodyText);
        Assert.Equal("y", (await client.RequestAsync("echo", "y").WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
    }
}
