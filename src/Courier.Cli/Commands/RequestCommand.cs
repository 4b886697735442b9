using System.CommandLine;
using System.Text;
using Courier.Client;

namespace Courier.Cli.Commands;

internal static class RequestCommand
{
    public static Command Create()
    {
        var connect = new Option<string[]>("--connect") { Description = "Endpoint to connect to; repeat it to give failover endpoints, tried in order.", Required = true };
        var service = new Option<string>("--service") { Description = "Service to ask.", DefaultValueFactory = _ => "echo" };
        var timeout = Cli.DurationOption("--timeout", CourierClientOptions.Default.Timeout, "Time to wait for a reply, per attempt.");
        var retries = new Option<int>("--retries") { Description = "Resends after the first attempt.", DefaultValueFactory = _ => CourierClientOptions.Default.Retries };
        var protocol = new Option<ClientProtocol>("--protocol") { Description = "Auto (ask the peer), Courier or Mdp (plain 7/MDP).", DefaultValueFactory = _ => ClientProtocol.Auto };
        var payload = new Argument<string[]>("payload") { Description = "Request frames (UTF-8).", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("request", "Send one request and print the reply, one frame per line.")
        {
            connect, service, timeout, retries, protocol, payload,
        };
        command.SetAction(parse => Cli.RunAsync(parse, async () =>
        {
            var cancellationToken = Cli.Shutdown;
            using var loggerFactory = Cli.CreateLoggerFactory(parse);
            var defaults = Cli.ClientOptions(parse.GetValue(connect)!, parse.GetValue(timeout), parse.GetValue(retries), loggerFactory);
            var options = defaults with { Protocol = parse.GetValue(protocol) };
            await using var client = new CourierClient(options);
            var frames = (parse.GetValue(payload) ?? []).Select(p => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(p)).ToArray();
            var reply = await client.RequestAsync(parse.GetValue(service)!, frames, cancellationToken);
            foreach (var frame in reply.Frames)
            {
                Console.WriteLine(Encoding.UTF8.GetString(frame.Span));
            }

            return 0;
        }));
        return command;
    }
}
