using System.CommandLine;
using Courier.Cli.Telemetry;
using Courier.Server;

namespace Courier.Cli.Commands;

internal static class ServerCommand
{
    public static Command Create()
    {
        var bind = CliOption.Endpoint("--bind", bind: true, "Endpoint to bind, e.g. tcp://0.0.0.0:5555 (port * picks one).");
        var name = CliOption.Text("--name", "Instance name, answered by whoami (default: the host name).");
        var delay = CliOption.Duration("--delay", TimeSpan.Zero, TimeSpan.Zero, TimeSpan.FromHours(1), "Simulated work per request.");
        var concurrency = CliOption.Int("--concurrency", CourierServerOptions.Default.MaxConcurrency, 1, 100_000, "Requests handled at once.");
        var drain = CliOption.Duration(
            "--drain-timeout", CourierServerOptions.Default.DrainTimeout, TimeSpan.Zero, TimeSpan.FromHours(24), "How long a stop waits for requests in flight.");
        var command = new Command("server", "Serve echo and whoami directly on a bound endpoint (no broker).")
        {
            bind, name, delay, concurrency, drain,
        };
        var telemetry = CliTelemetry.Options.Create();
        telemetry.AddTo(command);
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            var cancellationToken = Cli.Shutdown;
            using var loggerFactory = Cli.CreateLoggerFactory(parse);
            var instance = parse.GetValue(name) ?? Environment.MachineName;
            var wait = parse.GetValue(delay);
            await using var exporters = await CliTelemetry.StartAsync(parse, telemetry, "courier-server", instance, cancellationToken);
            var options = CourierServerOptions.Default with
            {
                Endpoint = parse.GetValue(bind)!,
                Name = instance,
                MaxConcurrency = parse.GetValue(concurrency),
                DrainTimeout = parse.GetValue(drain),
                // The built-in services never block: echo and whoami answer at once, --delay awaits a timer.
                RunHandlersInline = true,
                LoggerFactory = loggerFactory,
                Transport = Cli.Transport,
                Security = Cli.Security,
            };
            await using var server = new CourierServer(options)
                .Map(CourierServices.EchoName, CourierServices.WithDelay(CourierServices.Echo, wait), idempotent: true)
                .Map(CourierServices.WhoAmIName, CourierServices.WithDelay(CourierServices.WhoAmI(instance), wait), idempotent: true);
            await server.StartAsync(cancellationToken);
            Console.WriteLine($"server {instance} listening on {server.Endpoint}");
            Cli.AnnounceMetrics(exporters.MetricsUrl, listener: true);
            await Cli.WaitForShutdownAsync();

            await server.StopAsync(CancellationToken.None);
            Console.WriteLine($"server {instance} stopped");
            return 0;
        }));
        return command;
    }
}
