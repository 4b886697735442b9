using System.Collections.Concurrent;
using System.Diagnostics;
using Courier.Diagnostics;

namespace Courier.Tests.Infrastructure;

/// <summary>A real <see cref="ActivityListener"/> on the Courier source, sampling everything and keeping every stopped span.</summary>
public sealed class SpanRecorder : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _stopped = new();

    /// <summary>Listens to Courier's source, giving every span <paramref name="sampling"/> (by default: recorded).</summary>
    public SpanRecorder(ActivitySamplingResult sampling = ActivitySamplingResult.AllDataAndRecorded)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == CourierDiagnostics.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => sampling,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>Stopped spans for <paramref name="service"/> (their name).</summary>
    public IReadOnlyList<Activity> Of(string service) => [.. _stopped.Where(a => a.DisplayName == service)];

    public void Dispose() => _listener.Dispose();
}
