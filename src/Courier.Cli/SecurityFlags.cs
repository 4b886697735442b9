using System.CommandLine;
using Courier.Security;

namespace Courier.Cli;

/// <summary>
/// <c>--curve-secret</c>, <c>--curve-server</c>, <c>--curve-allow</c> and <c>--policy</c>: CURVE for every command that
/// listens or connects. Each file is read while parsing, so a wrong one is <c>--flag: what is wrong</c> (exit 2).
/// </summary>
internal static class SecurityFlags
{
    public static readonly Option<string?> Secret = Recursive(File(
        "--curve-secret", "This process's own secret certificate (NAME.key_secret, from `courier keygen`): turns CURVE on.", secret: true));

    public static readonly Option<string?> Server = Recursive(File(
        "--curve-server", "Clients and workers: the public certificate (NAME.key) of the server or broker to connect to.", secret: false));

    public static readonly Option<string?> Allow = Recursive(Directory(
        "--curve-allow", "Servers and brokers: a directory of public certificates (*.key); only those peers are admitted (re-read on change)."));

    public static readonly Option<string?> Policy = Recursive(Policyfile(
        "--policy", "Servers and brokers: a JSON file of which client keys may call which services, which worker keys may serve which (docs/security.md)."));

    public static IEnumerable<Option<string?>> All => [Secret, Server, Allow, Policy];

    /// <summary>The security of a command that listens (server, broker); a connecting role's flag is refused.</summary>
    public static CourierSecurityOptions ForListener(ParseResult parse, string command)
    {
        Refuse(parse, Server, $"is for commands that connect (request, bench, health, worker), not {command}; a listener has only its own --curve-secret");
        var options = new CourierSecurityOptions
        {
            CertificateFile = parse.GetValue(Secret),
            AllowDirectory = parse.GetValue(Allow),
            PolicyFile = parse.GetValue(Policy),
        };
        RequireSecret(options, parse, Allow);
        RequireSecret(options, parse, Policy);
        return options;
    }

    /// <summary>The security of a command that connects (request, bench, health, worker).</summary>
    public static CourierSecurityOptions ForConnector(ParseResult parse, string command)
    {
        Refuse(parse, Allow, $"is for commands that listen (server, broker), not {command}");
        Refuse(parse, Policy, $"is for commands that listen (server, broker), not {command}");
        var options = new CourierSecurityOptions { CertificateFile = parse.GetValue(Secret), ServerCertificateFile = parse.GetValue(Server) };
        RequireSecret(options, parse, Server);
        if (options.CertificateFile is not null && options.ServerCertificateFile is null)
        {
            throw new ArgumentException("--curve-secret: a client or worker also needs --curve-server FILE, the public certificate of the server or broker it connects to");
        }

        return options;
    }

    /// <summary>For commands that neither listen nor connect on their own (demo): any security flag is refused.</summary>
    public static void RefuseAll(ParseResult parse, string command)
    {
        foreach (var option in All)
        {
            Refuse(parse, option, $"is not used by {command}");
        }
    }

    private static void RequireSecret(CourierSecurityOptions options, ParseResult parse, Option<string?> flag)
    {
        if (options.CertificateFile is null && parse.GetValue(flag) is not null)
        {
            throw new ArgumentException($"{flag.Name}: needs --curve-secret FILE, this process's own secret certificate (CURVE is off without it)");
        }
    }

    private static void Refuse(ParseResult parse, Option<string?> flag, string why)
    {
        if (parse.GetValue(flag) is not null)
        {
            throw new ArgumentException($"{flag.Name}: {why}");
        }
    }

    private static Option<string?> File(string name, string description, bool secret) => new(name)
    {
        Description = description,
        HelpName = "FILE",
        CustomParser = result =>
        {
            var path = result.Tokens[^1].Value;
            try
            {
                var certificate = CurveCertificate.Load(path);
                if (secret && certificate.SecretKey is null)
                {
                    result.AddError($"{name}: {path} holds no secret key: give the NAME.key_secret file");
                }
            }
            // InvalidDataException: a file that is not a certificate is a bad flag too, not a crash.
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                result.AddError($"{name}: {ex.Message}");
            }

            return path;
        },
    };

    private static Option<string?> Directory(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "DIR",
        CustomParser = result =>
        {
            var path = result.Tokens[^1].Value;
            if (!System.IO.Directory.Exists(path))
            {
                result.AddError($"{name}: '{path}' is not a directory");
            }

            return path;
        },
    };

    private static Option<string?> Policyfile(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "FILE",
        CustomParser = result =>
        {
            var path = result.Tokens[^1].Value;
            if (!System.IO.File.Exists(path))
            {
                result.AddError($"{name}: '{path}' does not exist");
            }

            return path;
        },
    };

    private static Option<T> Recursive<T>(Option<T> option)
    {
        option.Recursive = true;
        return option;
    }
}
