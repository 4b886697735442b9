using System.Diagnostics;
using System.Globalization;
using Courier.Broker;
using Courier.Client;
using Microsoft.Extensions.Logging.Abstractions;

namespace Courier.Cli.Commands;

/// <summary>The broker half of `courier demo`: three worker processes of different speeds, a client load, one worker killed.</summary>
internal static class BrokerDemo
{
    private static readonly (string Name, string Delay)[] Workers = [("fast", "1ms"), ("medium", "5ms"), ("slow", "25ms")];

    /// <summary>
    /// How long the worker processes get to start and register. A cold start of three `dotnet` processes on a busy
    /// machine has taken over 10 s; a worker that exits ends the wait at once, so this limit only catches a hang.
    /// </summary>
    private static readonly TimeSpan RegistrationLimit = TimeSpan.FromSeconds(90);

    public static async Task<bool> RunAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        await using var broker = new CourierBroker(CourierBrokerOptions.Default with
        {
            Endpoint = "tcp://127.0.0.1:*",
            HeartbeatInterval = TimeSpan.FromMilliseconds(500),
            Transport = Cli.Transport,
        });
        await broker.StartAsync(cancellationToken);
        var endpoint = broker.Endpoint!;
        Console.WriteLine($"6. Started a Majordomo broker on {endpoint} and three `courier worker` processes for 'whoami':");
        var processes = Workers.ToDictionary(w => w.Name, w => StartWorker(endpoint, w.Name, w.Delay));
        try
        {
            foreach (var (name, delay) in Workers)
            {
                Console.WriteLine($"   {name,-6} pid {processes[name].Id,-7} {delay} per request, up to 20 at once");
            }

            await using var client = new CourierClient(CourierClientOptions.Default with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(5), Retries = 3, Transport = Cli.Transport });
            await WaitForWorkersAsync(client, processes, cancellationToken);
            return await RunLoadAsync(client, processes, duration, cancellationToken);
        }
        finally
        {
            foreach (var process in processes.Values)
            {
                if (!process.HasExited)
                {
                    process.Kill();
                }

                await process.WaitForExitAsync(CancellationToken.None);
                process.Dispose();
            }
        }
    }

    private static async Task<bool> RunLoadAsync(CourierClient client, Dictionary<string, WorkerProcess> processes, TimeSpan duration, CancellationToken cancellationToken)
    {
        var counts = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        long errors = 0, total = 0;
        var latencies = new HdrHistogram.LongConcurrentHistogram(1, 60_000_000, 3);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var started = Stopwatch.GetTimestamp();
        var loops = Enumerable.Range(0, 80).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    // Not cancelled by the stop: every request sent ends as a reply or an error, and is counted.
                    var reply = await client.RequestAsync("whoami", "", CancellationToken.None);
                    latencies.RecordValue(Math.Max(1, (long)Stopwatch.GetElapsedTime(sent).TotalMicroseconds));
                    counts.AddOrUpdate(reply.BodyText, 1, (_, n) => n + 1);
                    Interlocked.Increment(ref total);
                }
                catch (CourierException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }, CancellationToken.None)).ToArray();

        Console.WriteLine($"7. Load: 80 requests in flight through the broker for {Duration.Format(duration)}; `medium` is killed (SIGKILL) halfway.");
        Console.WriteLine($"   {"time",5} {"fast",8} {"medium",8} {"slow",8} {"req/s",8}");
        var killed = false;
        long lastTotal = 0;
        for (var second = 1; Stopwatch.GetElapsedTime(started) < duration && !cancellationToken.IsCancellationRequested; second++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
            var now = Interlocked.Read(ref total);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"   {second,4}s {counts.GetValueOrDefault("fast"),8:N0} {counts.GetValueOrDefault("medium"),8:N0} {counts.GetValueOrDefault("slow"),8:N0} {now - lastTotal,8:N0}"));
            lastTotal = now;
            if (!killed && Stopwatch.GetElapsedTime(started) >= duration / 2)
            {
                processes["medium"].Kill();
                killed = true;
                Console.WriteLine($"   -- killed medium (pid {processes["medium"].Id}) with SIGKILL; the broker hands its requests to the others --");
            }
        }

        await stop.CancelAsync();
        await Task.WhenAll(loops);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Console.WriteLine();
        Console.WriteLine($"   {"worker",-8} {"requests",10} {"share",7}");
        foreach (var (name, _) in Workers)
        {
            var n = counts.GetValueOrDefault(name);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   {name,-8} {n,10:N0} {100.0 * n / Math.Max(1, total),6:0.0}%"));
        }

        // An empty histogram has no percentiles (HdrHistogram throws): say so rather than fail.
        var percentiles = latencies.TotalCount > 0
            ? $"p50 {latencies.GetValueAtPercentile(50)} us, p99 {latencies.GetValueAtPercentile(99)} us"
            : "no latencies recorded";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"   {"total",-8} {total,10:N0}   {total / seconds:N0} req/s, {percentiles}, errors {errors}"));
        Console.WriteLine();
        Console.WriteLine(errors == 0
            ? "What this showed: the broker gave each request to the least-loaded worker, so the fast one served most; when a worker"
              + Environment.NewLine + "died mid-request, its requests went back to the queue and were served by the others: no request was lost."
            : $"{errors} request(s) failed: see the errors above.");
        return errors == 0;
    }

    private static WorkerProcess StartWorker(string endpoint, string name, string delay)
    {
        var (file, prefix) = Self();
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in prefix.Concat(["worker", "--connect", endpoint, "--service", "whoami", "--name", name, "--delay", delay, "--concurrency", "20", "--heartbeat", "500ms", "--transport", Cli.Transport.Implementation.ToString()]))
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start a worker process");
        var worker = new WorkerProcess(process);
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => worker.AddError(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return worker;
    }

    /// <summary>How to run this same executable again: the app host, or `dotnet Courier.Cli.dll`.</summary>
    private static (string File, string[] Prefix) Self()
    {
        var path = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(path) == "dotnet"
            ? (path, [typeof(BrokerDemo).Assembly.Location])
            : (path, []);
    }

    private static async Task WaitForWorkersAsync(CourierClient client, Dictionary<string, WorkerProcess> processes, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var told = false;
        while (Stopwatch.GetElapsedTime(started) < RegistrationLimit)
        {
            if (processes.FirstOrDefault(p => p.Value.HasExited) is { Value: not null } exited)
            {
                throw new InvalidOperationException(
                    $"the demo's worker '{exited.Key}' exited with code {exited.Value.ExitCode} before registering: {exited.Value.Errors}");
            }

            var stats = await client.RequestAsync("mmi.stats", "whoami", cancellationToken);
            if (stats.BodyText.Contains($"\"workers\":{processes.Count}", StringComparison.Ordinal))
            {
                return;
            }

            if (!told && Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(5))
            {
                told = true;
                Console.WriteLine("   (the worker processes are slow to start; waiting for them to register)");
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new InvalidOperationException($"the demo's workers did not register within {Duration.Format(RegistrationLimit)}");
    }

    /// <summary>A worker process and the last lines of its stderr, to tell why it failed.</summary>
    private sealed class WorkerProcess(Process process) : IDisposable
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _errors = new();

        public int Id => process.Id;

        public bool HasExited => process.HasExited;

        public int ExitCode => process.ExitCode;

        public string Errors => _errors.IsEmpty ? "(nothing on stderr)" : string.Join(" | ", _errors);

        public void AddError(string? line)
        {
            if (line is null)
            {
                return;
            }

            _errors.Enqueue(line);
            while (_errors.Count > 5 && _errors.TryDequeue(out _))
            {
            }
        }

        public void Kill() => process.Kill();

        public Task WaitForExitAsync(CancellationToken cancellationToken) => process.WaitForExitAsync(cancellationToken);

        public void Dispose() => process.Dispose();
    }
}
