using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text;
using Durations = Courier.Cli.Duration;

namespace Courier.Cli;

/// <summary>
/// Options that check their own values: each error is <c>--flag: what is wrong</c>, found while parsing (exit 2),
/// so no bad value reaches the library and comes back as a message about one of its properties.
/// </summary>
internal static class CliOption
{
    /// <summary>The example a missing required option's error shows, e.g. <c>tcp://0.0.0.0:5555</c>.</summary>
    private static readonly Dictionary<Option, string> Examples = [];

    public static string? ExampleOf(Option option) => Examples.GetValueOrDefault(option);

    /// <summary>A duration between <paramref name="min"/> and <paramref name="max"/>, or 0 as well when <paramref name="allowZero"/> (off).</summary>
    public static Option<TimeSpan> Duration(
        string name, TimeSpan defaultValue, TimeSpan min, TimeSpan max, string description, bool allowZero = false) => new(name)
        {
            Description = description,
            HelpName = "DURATION",
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                var text = LastToken(result);
                if (!Durations.TryParse(text, out var value, out var error))
                {
                    result.AddError($"{name}: {error}");
                }
                else if ((value < min && !(allowZero && value == TimeSpan.Zero)) || value > max)
                {
                    var least = allowZero ? $"{Durations.Format(min)}, or 0" : Durations.Format(min);
                    result.AddError($"{name}: {Within(text, least, Durations.Format(max), value < min)}");
                }

                return value;
            },
        };

    public static Option<int> Int(string name, int defaultValue, int min, int max, string description, string helpName = "N") => new(name)
    {
        Description = description,
        HelpName = helpName,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
        {
            var text = LastToken(result).Trim();
            if (!System.Numerics.BigInteger.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                result.AddError($"{name}: '{text}' is not a whole number");
                return default;
            }

            if (value < min || value > max)
            {
                result.AddError($"{name}: {Within(text, min.ToString(CultureInfo.InvariantCulture), max.ToString(CultureInfo.InvariantCulture), value < min)}");
                return default;
            }

            return (int)value;
        },
    };

    /// <summary>An enum option spelled by its names (any case), never by the numbers behind them.</summary>
    public static Option<T> Enum<T>(string name, T defaultValue, string description, string? helpName = null)
        where T : struct, System.Enum
        => new(name)
        {
            Description = description,
            HelpName = helpName ?? string.Join('|', System.Enum.GetNames<T>()),
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                var text = LastToken(result);
                var match = System.Enum.GetNames<T>().FirstOrDefault(n => n.Equals(text, StringComparison.OrdinalIgnoreCase));
                if (match is null)
                {
                    result.AddError($"{name}: '{text}' is not one of {string.Join(", ", System.Enum.GetNames<T>())}");
                    return defaultValue;
                }

                return System.Enum.Parse<T>(match);
            },
        };

    /// <summary>One word of <paramref name="choices"/> (any case), or null when not given: the command picks the default.</summary>
    public static Option<string?> Choice(string name, string[] choices, string description) => new(name)
    {
        Description = description,
        HelpName = string.Join('|', choices),
        CustomParser = result =>
        {
            var text = LastToken(result);
            var match = choices.FirstOrDefault(c => c.Equals(text, StringComparison.OrdinalIgnoreCase));
            if (match is null)
            {
                result.AddError($"{name}: '{text}' is not one of {string.Join(", ", choices)}");
            }

            return match;
        },
    };

    /// <summary>One endpoint; <paramref name="bind"/> allows <c>*</c> as host and port.</summary>
    public static Option<string> Endpoint(string name, bool bind, string description, string? defaultValue = null)
    {
        var option = new Option<string>(name) { Description = description, HelpName = "ENDPOINT", Required = defaultValue is null };
        if (defaultValue is not null)
        {
            option.DefaultValueFactory = _ => defaultValue;
        }

        option.Validators.Add(result => CheckEndpoints(result, name, bind));
        Examples[option] = bind ? "tcp://0.0.0.0:5555" : "tcp://127.0.0.1:5555";
        return option;
    }

    /// <summary>One or more endpoints to connect to, each given with its own flag.</summary>
    public static Option<string[]> Endpoints(string name, string description)
    {
        var option = new Option<string[]>(name) { Description = description, HelpName = "ENDPOINT", Required = true };
        option.Validators.Add(result => CheckEndpoints(result, name, bind: false));
        Examples[option] = "tcp://127.0.0.1:5555";
        return option;
    }

    /// <summary>A service name as the protocol carries it; <paramref name="allowMmi"/> for queries of a broker's 8/MMI services.</summary>
    public static Option<string?> Service(string name, string? defaultValue, bool allowMmi, string description)
    {
        var option = new Option<string?>(name) { Description = description, HelpName = "NAME" };
        if (defaultValue is not null)
        {
            option.DefaultValueFactory = _ => defaultValue;
        }

        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && ServiceNameProblem(result.Tokens[^1].Value, allowMmi) is { } problem)
            {
                result.AddError($"{name}: {problem}");
            }
        });
        return option;
    }

    /// <summary>Service names, the flag given once per service (a comma is a valid character of a name); each checked as <see cref="Service"/> does.</summary>
    public static Option<string[]> Services(string name, string defaultValue, bool allowMmi, string description)
    {
        var option = new Option<string[]>(name) { Description = description, HelpName = "NAME", DefaultValueFactory = _ => [defaultValue] };
        option.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (ServiceNameProblem(token.Value, allowMmi) is { } problem)
                {
                    result.AddError($"{name}: {problem}");
                }
            }
        });
        return option;
    }

    /// <summary>Free text that must not be blank (an instance name); no default, so help can describe the computed one.</summary>
    public static Option<string?> Text(string name, string description, string helpName = "NAME")
    {
        var option = new Option<string?>(name) { Description = description, HelpName = helpName };
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && string.IsNullOrWhiteSpace(result.Tokens[^1].Value))
            {
                result.AddError($"{name}: must not be empty");
            }
        });
        return option;
    }

    /// <summary>Mirrors the wire's rule for a service frame: 1-255 bytes of printable UTF-8.</summary>
    private static string? ServiceNameProblem(string service, bool allowMmi)
    {
        if (service.Length == 0)
        {
            return "must not be empty";
        }

        int bytes;
        try
        {
            bytes = new UTF8Encoding(false, throwOnInvalidBytes: true).GetByteCount(service);
        }
        catch (EncoderFallbackException)
        {
            return $"'{service}' is not valid UTF-8";
        }

        if (bytes > 255)
        {
            return $"is {bytes} bytes long; a service name is at most 255";
        }

        if (!service.EnumerateRunes().All(Courier.Protocol.Internal.Mdp.IsPrintable))
        {
            return "contains a control or format character, or a line separator";
        }

        return !allowMmi && service.StartsWith("mmi.", StringComparison.Ordinal)
            ? $"'{service}': names starting with mmi. are reserved for the broker's 8/MMI queries"
            : null;
    }

    private static void CheckEndpoints(OptionResult result, string name, bool bind)
    {
        foreach (var token in result.Tokens)
        {
            if (EndpointSyntax.Check(token.Value, bind) is { } problem)
            {
                result.AddError($"{name}: {problem}");
                return;
            }
        }
    }

    private static string Within(string text, string min, string max, bool tooSmall)
        => tooSmall ? $"'{text}' is too small; at least {min}" : $"'{text}' is too large; at most {max}";

    /// <summary>The value given (a custom parser runs only when the option was given with one).</summary>
    private static string LastToken(ArgumentResult result) => result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
}
