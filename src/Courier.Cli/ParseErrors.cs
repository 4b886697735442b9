using System.CommandLine;
using System.CommandLine.Parsing;

namespace Courier.Cli;

/// <summary>
/// Turns what System.CommandLine found wrong into the one line the README promises (<c>courier: error: …</c>, exit 2),
/// naming the flag or the command, instead of its own messages followed by the whole help.
/// </summary>
internal static class ParseErrors
{
    /// <summary>The error for a command line that cannot run, or null when it can (including --help and --version).</summary>
    public static string? Describe(ParseResult parse)
    {
        if (parse.Action is { ClearsParseErrors: true })
        {
            return null;
        }

        var command = parse.CommandResult.Command;
        var path = PathOf(parse.CommandResult);
        if (parse.UnmatchedTokens.Count > 0)
        {
            var token = parse.UnmatchedTokens[0];
            return token.StartsWith('-') ? $"unknown option '{token}' for {path}; see {path} --help"
                : command.Subcommands.Count > 0 ? $"unknown command '{token}'; the commands are {CommandList(command)}"
                : $"unexpected argument '{token}' for {path}; see {path} --help";
        }

        // Before the other errors: a mistyped flag taken for a payload frame can also leave a required option "missing".
        if (OptionLikeArgument(parse, path) is { } optionLike)
        {
            return optionLike;
        }

        if (parse.Errors.Count == 0)
        {
            return null;
        }

        if (command.Subcommands.Count > 0)
        {
            return $"no command given; one of {CommandList(command)} (see {path} --help)";
        }

        var error = parse.Errors.FirstOrDefault(e => e.SymbolResult is OptionResult) ?? parse.Errors[0];
        return error.SymbolResult is OptionResult option ? DescribeOption(option, error.Message) : error.Message;
    }

    private static string DescribeOption(OptionResult result, string message)
    {
        var option = result.Option;
        if (result.IdentifierToken is null)
        {
            var example = CliOption.ExampleOf(option);
            return example is null ? $"{option.Name}: missing; it is required" : $"{option.Name}: missing; give one, e.g. {option.Name} {example}";
        }

        if (result.Tokens.Count == 0)
        {
            return $"{option.Name}: needs a value ({option.HelpName})";
        }

        if (result.Tokens.Count > 1 && option.Arity.MaximumNumberOfValues == 1)
        {
            return $"{option.Name}: given {result.Tokens.Count} times; give it once";
        }

        // CliOption's checks name the flag already; anything else System.CommandLine says gets the flag in front.
        return message.StartsWith(option.Name + ":", StringComparison.Ordinal) ? message : $"{option.Name}: {message}";
    }

    /// <summary>
    /// A mistyped flag in front of `request`'s payload (<c>--servce x</c>) would be sent as two frames; anything that
    /// looks like an option before <c>--</c> is refused instead. Payload frames that begin with '-' go after <c>--</c>.
    /// </summary>
    private static string? OptionLikeArgument(ParseResult parse, string path)
    {
        var tokens = parse.Tokens;
        var dashDash = tokens.ToList().FindIndex(t => t.Type == TokenType.DoubleDash);
        foreach (var argument in parse.CommandResult.Command.Arguments)
        {
            foreach (var token in parse.GetResult(argument)?.Tokens ?? [])
            {
                var index = tokens.ToList().FindIndex(t => ReferenceEquals(t, token));
                if ((dashDash < 0 || index < dashDash) && LooksLikeOption(token.Value))
                {
                    return $"unknown option '{token.Value}' for {path}; a {argument.HelpName} that begins with - goes after --";
                }
            }
        }

        return null;
    }

    /// <summary>"-x" or "--x", but not "-" or a negative number.</summary>
    private static bool LooksLikeOption(string value)
        => value.Length > 1 && value[0] == '-' && !char.IsAsciiDigit(value[1]) && value[1] != '.';

    private static string CommandList(Command command) => string.Join(", ", command.Subcommands.Select(c => c.Name));

    private static string PathOf(CommandResult result)
        => result.Parent is CommandResult parent ? $"{PathOf(parent)} {result.Command.Name}" : result.Command.Name;
}
