using System.Diagnostics;
using System.Globalization;
using Courier.Client;
using HdrHistogram;
using Microsoft.Extensions.Logging;

namespace Courier.Cli.Bench;

internal sealed record BenchSettings(
    IReadOnlyList<string> Endpoints, string Service, int Clients, int InFlight, TimeSpan Duration, int Size, TimeSpan Timeout, int Retries, bool AtMostOnce = false,
    TimeSpan Warmup = default, bool ResumeOnPool = false);

internal sealed record BenchResult(long Requests, BenchErrors Failures, double Seconds, long P50, long P90, long P99, long P999, long Max)
{
    public long Errors => Failures.Count;

    public double Rps => Seconds > 0 ? Requests / Seconds : 0;

    public string ToJson() => string.Create(
        CultureInfo.InvariantCulture,
        $"{{\"requests\":{Requests},\"errors\":{Errors},\"seconds\":{Seconds:0.###},\"rps\":{Rps:0},\"p50_us\":{P50},\"p90_us\":{P90},\"p99_us\":{P99},\"p999_us\":{P999},\"max_us\":{Max}}}");

    public void WriteTable(TextWriter output)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"requests",10} {"errors",7} {"seconds",8} {"req/s",10} {"p50",8} {"p90",8} {"p99",8} {"p99.9",8} {"max",8}  (latency in us)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Requests,10:N0} {Errors,7:N0} {Seconds,8:0.00} {Rps,10:N0} {P50,8} {P90,8} {P99,8} {P999,8} {Max,8}"));
        if (Errors > 0)
        {
            output.WriteLine($"errors: {Failures.Describe()}");
        }
    }
}

/// <summary>
/// CLIENTS connections, each keeping INFLIGHT requests outstanding for WARMUP and then DURATION, then waiting for the
/// rest. Replies before the warm-up ends are not counted (errors are): a fresh process's first seconds are its JIT's.
/// </summary>
internal static class BenchRunner
{
    private const long HighestTrackableMicros = 10L * 60 * 1_000_000;

    public static async Task<BenchResult> RunAsync(
        BenchSettings settings, ILoggerFactory loggerFactory, Action<long, long, TimeSpan>? progress, CancellationToken cancellationToken)
    {
        var body = new byte[settings.Size];
        ReadOnlyMemory<byte>[] payload = [body];

        // Idempotent unless asked otherwise, as the built-in services are: a request on a connection judged dead is
        // resent elsewhere rather than failed with outcome unknown.
        var requestOptions = CourierRequestOptions.Default with { Idempotent = !settings.AtMostOnce };
        Random.Shared.NextBytes(body);
        var clients = Enumerable.Range(0, settings.Clients)
            // The request loops only record a figure and ask again: they may run on the client's own loop thread.
            // Large replies are read in place and given back: the load generator only checks that they came.
            .Select(_ => new CourierClient(Cli.ClientOptions(settings.Endpoints, settings.Timeout, settings.Retries, loggerFactory) with
            {
                RunContinuationsInline = !settings.ResumeOnPool,
                LendLargeReplies = true,
            }))
            .ToArray();
        // Each thread keeps its own counters and raw latencies, merged into one histogram at the end. The loops run on
        // their client's loop thread, so a client's loops share one recorder, warm in that thread's cache: one per loop
        // (400) missed the cache at every reply (about 4 % of the CPU of a pinned run), one shared would need a lock.
        using var recorders = new ThreadLocal<LatencyRecorder>(() => new LatencyRecorder(), trackAllValues: true);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var started = Stopwatch.GetTimestamp();
        var measureFrom = started + (long)(settings.Warmup.TotalSeconds * Stopwatch.Frequency);
        var loops = new List<Task>();
        foreach (var client in clients)
        {
            for (var i = 0; i < settings.InFlight; i++)
            {
                loops.Add(Task.Run(() => LoopAsync(client), CancellationToken.None));
            }
        }

        async Task LoopAsync(CourierClient client)
        {
            while (!stop.IsCancellationRequested)
            {
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    // Outstanding requests finish (success or error) rather than being cancelled: every request is counted.
                    using var reply = await client.RequestAsync(settings.Service, payload, requestOptions, CancellationToken.None);
                    var done = Stopwatch.GetTimestamp();
                    if (done >= measureFrom)
                    {
                        recorders.Value!.Record((int)Math.Min(HighestTrackableMicros, (long)Stopwatch.GetElapsedTime(sent, done).TotalMicroseconds));
                    }
                }
                catch (CourierException ex)
                {
                    recorders.Value!.Errors.Add(ex);
                }
            }
        }

        long Sum(Func<LatencyRecorder, long> count) => recorders.Values.Sum(count);

        var all = Task.WhenAll(loops);
        var until = measureFrom + (long)(settings.Duration.TotalSeconds * Stopwatch.Frequency);
        if (progress is null)
        {
            // One timer for the whole run: a periodic wake-up would set thread-pool workers spinning (sched_yield)
            // after each tick, CPU taken from the processes being measured.
            await Task.WhenAny(all, Task.Delay(settings.Warmup + settings.Duration, cancellationToken)); // WhenAny does not throw for a cancelled delay
        }

        while (progress is not null && !all.IsCompleted && Stopwatch.GetTimestamp() < until && !cancellationToken.IsCancellationRequested)
        {
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromMilliseconds(250), CancellationToken.None));
            progress(Sum(r => r.Count), Sum(r => r.Errors.Count), Stopwatch.GetElapsedTime(started));
        }

        await stop.CancelAsync();
        await all;
        var seconds = Math.Max(0, Stopwatch.GetElapsedTime(measureFrom).TotalSeconds);
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }

        var merged = new LongHistogram(HighestTrackableMicros, 3);
        var failures = new BenchErrors();
        foreach (var recorder in recorders.Values)
        {
            recorder.CopyTo(merged);
            failures.AddRange(recorder.Errors);
        }

        var any = merged.TotalCount > 0;
        return new BenchResult(
            Sum(r => r.Count), failures, seconds,
            any ? merged.GetValueAtPercentile(50) : 0,
            any ? merged.GetValueAtPercentile(90) : 0,
            any ? merged.GetValueAtPercentile(99) : 0,
            any ? merged.GetValueAtPercentile(99.9) : 0,
            any ? merged.GetMaxValue() : 0);
    }

    /// <summary>A progress line rewritten in place, only when stdout is a terminal.</summary>
    public static Action<long, long, TimeSpan>? TerminalProgress()
    {
        if (Console.IsOutputRedirected)
        {
            return null;
        }

        var lastPrint = TimeSpan.Zero;
        return (requests, errors, elapsed) =>
        {
            if (elapsed - lastPrint < TimeSpan.FromSeconds(1))
            {
                return;
            }

            lastPrint = elapsed;
            var rate = requests / Math.Max(elapsed.TotalSeconds, 0.001);
            Console.Write(string.Create(CultureInfo.InvariantCulture, $"\r  {elapsed.TotalSeconds,5:0}s  {requests,12:N0} requests  {rate,10:N0} req/s  {errors:N0} errors   "));
        };
    }
}
