using System.CommandLine;
using Courier.Security;

namespace Courier.Cli.Commands;

internal static class KeygenCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out")
        {
            Description = "Where to write: DIR/NAME gives DIR/NAME.key (public) and DIR/NAME.key_secret (secret, mode 0600).",
            HelpName = "DIR/NAME",
            Required = true,
        };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing pair (its keys are lost)." };
        var command = new Command("keygen", "Write a new CURVE key pair as czmq certificates (read by pyzmq's zmq.auth and czmq too).")
        {
            output, force,
        };
        command.SetAction(parse => Cli.RunAsync(parse, () =>
        {
            var basePath = parse.GetValue(output)!;
            var name = Path.GetFileName(basePath);
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new ArgumentException($"--out: '{basePath}' names no file: write DIR/NAME");
            }

            var directory = Path.GetDirectoryName(Path.GetFullPath(basePath))!;
            if (!Directory.Exists(directory))
            {
                throw new ArgumentException($"--out: the directory '{directory}' does not exist");
            }

            if (!parse.GetValue(force) && (File.Exists(basePath + ".key") || File.Exists(basePath + ".key_secret")))
            {
                throw new ArgumentException($"--out: {basePath}.key or .key_secret exists already; give --force to replace the pair");
            }

            var certificate = CurveCertificate.Generate(new Dictionary<string, string> { ["name"] = name });
            certificate.Save(basePath);
            Console.WriteLine($"public {basePath}.key {certificate.PublicKey}");
            Console.WriteLine($"secret {basePath}.key_secret");
            return Task.FromResult(0);
        }));
        return command;
    }
}
