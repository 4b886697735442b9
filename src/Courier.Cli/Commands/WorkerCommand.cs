using System.CommandLine;
using Courier.Cli.Telemetry;
using Courier.Client;
using Courier.Server;
using Courier.Worker;

namespace Courier.Cli.Commands;

internal static class WorkerCommand
{
    public static Command Create()
    {
        var connect = CliOption.Endpoints("--connect", "The broker's endpoint; repeat it to serve several brokers at once (no single broker to lose).");
        var service = CliOption.Services(
            "--service", CourierServices.EchoName, allowMmi: false, "Service name to register with the broker: any name. Given more than once, the worker serves each.");
        var reply = CliOption.Choice(
            "--reply", [CourierServices.EchoName, CourierServices.WhoAmIName],
            "What to answer, for every service: echo (the request's frames) or whoami (the instance name). Default: whoami for a service named whoami, else echo.");
        var name = CliOption.Text("--name", "Instance name, answered by --reply whoami (default: host name and process id).");
        var delay = CliOption.Duration("--delay", TimeSpan.Zero, TimeSpan.Zero, TimeSpan.FromHours(1), "Simulated work per request.");
        var concurrency = CliOption.Int("--concurrency", CourierWorkerOptions.Default.Concurrency, 1, 100_000, "Requests of each service handled at once.");
        var prefetch = CliOption.Int(
            "--prefetch", CourierWorkerOptions.Default.Prefetch, 0, 100_000,
            "Requests of each service a Courier broker may hand this worker beyond --concurrency; they wait here for a handler (0: only what can start).");
        var heartbeat = CliOption.Duration(
            "--heartbeat", CourierWorkerOptions.Default.HeartbeatInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1), "Heartbeat interval with the broker.");
        var liveness = CliOption.Int("--liveness", CourierWorkerOptions.Default.HeartbeatLiveness, 1, 100, "Missed heartbeats before reconnecting.");
        var drain = CliOption.Duration(
            "--drain-timeout", CourierWorkerOptions.Default.DrainTimeout, TimeSpan.Zero, TimeSpan.FromHours(24),
            "How long a stop waits for requests in flight; then their handlers are cancelled.");
        var protocol = CliOption.Enum("--protocol", ClientProtocol.Auto, "Auto (ask the broker), Courier or Mdp (plain 7/MDP).");
        var record = CliOption.Text(
            "--record", "Append each request's body as a line to this file when its handler starts: an effect, so the services are declared not idempotent (a broker never runs such a request twice).", "PATH");
        var command = new Command("worker", "Serve a service of any name for a 7/MDP broker, answering like echo or whoami.")
        {
            connect, service, reply, name, delay, concurrency, prefetch, heartbeat, liveness, drain, protocol, record,
        };
        var telemetry = CliTelemetry.Options.Create();
        telemetry.AddTo(command);
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            var cancellationToken = Cli.Shutdown;
            using var loggerFactory = Cli.CreateLoggerFactory(parse);
            var instance = parse.GetValue(name) ?? $"{Environment.MachineName}-{Environment.ProcessId}";
            var serviceNames = parse.GetValue(service)!.Distinct(StringComparer.Ordinal).ToArray();
            await using var exporters = await CliTelemetry.StartAsync(parse, telemetry, "courier-worker", instance, cancellationToken);
            await using var worker = new CourierWorker(
                CourierWorkerOptions.Default with
                {
                    BrokerEndpoints = parse.GetValue(connect)!,
                    Name = instance,
                    Concurrency = parse.GetValue(concurrency),
                    Prefetch = parse.GetValue(prefetch),
                    HeartbeatInterval = parse.GetValue(heartbeat),
                    HeartbeatLiveness = parse.GetValue(liveness),
                    DrainTimeout = parse.GetValue(drain),
                    Protocol = parse.GetValue(protocol),
                    // The built-in services never block: echo and whoami answer at once, --delay awaits a timer.
                    RunHandlersInline = true,
                    LoggerFactory = loggerFactory,
                    Transport = Cli.Transport,
                    Security = Cli.Security,
                });
            var serving = new List<string>();
            foreach (var serviceName in serviceNames)
            {
                // One connection for all of them with a Courier broker, one each with others (docs/protocol.md §3).
                var answer = parse.GetValue(reply) ?? (serviceName == CourierServices.WhoAmIName ? CourierServices.WhoAmIName : CourierServices.EchoName);
                var handler = answer == CourierServices.WhoAmIName ? CourierServices.WhoAmI(instance) : CourierServices.Echo;
                // echo and whoami have no effects: declared idempotent, a broker may run them again after a worker's death
                // or stall. With --record they have one.
                var served = CourierServices.WithDelay(handler, parse.GetValue(delay));
                var recordTo = parse.GetValue(record);
                worker.Map(serviceName, recordTo is null ? served : Recording(recordTo, served), idempotent: recordTo is null);
                serving.Add($"{serviceName} ({answer})");
            }

            await worker.StartAsync(cancellationToken);
            Console.WriteLine($"worker {instance} serving {string.Join(", ", serving)} for {string.Join(", ", parse.GetValue(connect)!)}");
            Cli.AnnounceMetrics(exporters.MetricsUrl, listener: false);
            await Cli.WaitForShutdownAsync();
            await worker.StopAsync(CancellationToken.None);
            Console.WriteLine($"worker {instance} stopped");
            return 0;
        }));
        return command;
    }

    private static readonly Lock RecordLock = new();

    /// <summary>Appends each request's body to <paramref name="path"/> as its handler starts, then serves it: executions, counted.</summary>
    private static CourierHandler Recording(string path, CourierHandler handler) => (request, cancellationToken) =>
    {
        lock (RecordLock)
        {
            File.AppendAllText(path, request.BodyText + "\n");
        }

        return handler(request, cancellationToken);
    };
}
