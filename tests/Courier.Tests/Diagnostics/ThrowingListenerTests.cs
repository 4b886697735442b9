using System.Diagnostics.Metrics;
using Courier.Client;
using Courier.Diagnostics;
using Courier.Server;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Diagnostics;

/// <summary>A metrics listener is the application's code, run on the client's loop: one that throws must not strand a call.</summary>
public sealed class ThrowingListenerTests
{
    [Theory]
    [InlineData("rpc.client.call.duration")]
    [InlineData("courier.client.retries")]
    public async Task A_call_ends_with_its_reply_even_when_a_metrics_listener_throws_as_the_client_records_it(string instrumentName)
    {
        // Only this test's service: other tests run beside it in this process, under the same meter.
        var service = $"throwing-{Guid.NewGuid():N}"[..20];
        using var listener = Throwing(instrumentName, service);
        using var log = new RecordingLoggerFactory();
        var runs = 0;
        CourierHandler handler = async (r, ct) =>
        {
            // The first run never answers: only the retry, sent to the other server (an idempotent service), brings the
            // reply (a resend to the same server would join the run in progress).
            if (Interlocked.Increment(ref runs) == 1)
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            }

            return r.Frames;
        };
        await using var first = await TestServer.StartAsync(map: s => s.Map(service, handler, idempotent: true));
        await using var second = await TestServer.StartAsync(map: s => s.Map(service, handler, idempotent: true));
        await using var client = TestServer.Client(first.Endpoint!, o => o with
        {
            Endpoints = [first.Endpoint!, second.Endpoint!],
            Timeout = TimeSpan.FromSeconds(1),
            Retries = 3,
            LoggerFactory = log,
        });

        // Before: out of the table when its duration was recorded, the call was never completed; counted as retried before
        // its resend, it was left with no attempt timer, no probe and no resend.
        var reply = await client.RequestAsync(service, "x", CourierRequestOptions.Default with { Idempotent = true }).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("x", reply.BodyText);
        Assert.True(log.Contains("listener threw"), log.AtLeast(Microsoft.Extensions.Logging.LogLevel.Information));
        Assert.Equal("y", (await client.RequestAsync("echo", "y").WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
    }

    private static MeterListener Throwing(string instrumentName, string service)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == CourierDiagnostics.MeterName && instrument.Name == instrumentName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) => ThrowFor(tags, service));
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) => ThrowFor(tags, service));
        listener.Start();
        return listener;
    }

    private static void ThrowFor(ReadOnlySpan<KeyValuePair<string, object?>> tags, string service)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == "rpc.method" && Equals(tag.Value, service))
            {
                throw new InvalidOperationException("a listener that throws");
            }
        }
    }
}
