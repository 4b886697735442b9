using System.Collections;
using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Text;

namespace Courier.Cli;

/// <summary>
/// `courier --help` and `courier COMMAND --help`: usage as it is typed, defaults in the syntax they are written in
/// (<c>2.5s</c>, not <c>00:00:02.5000000</c>), the duration syntax and the exit codes stated once.
/// System.CommandLine's own help cannot be told how to print a default.
/// </summary>
internal sealed class HelpWriter : SynchronousCommandLineAction
{
    private const int Width = 100;

    /// <summary>Help is asked for: it shows even when a required option is missing.</summary>
    public override bool ClearsParseErrors => true;

    public override int Invoke(ParseResult parseResult)
    {
        var output = new StringBuilder();
        Write(output, parseResult.CommandResult.Command, parseResult.RootCommandResult.Command);
        Console.Out.Write(output.ToString());
        return 0;
    }

    public static void Write(StringBuilder output, Command command, Command root)
    {
        var isRoot = command == root;
        var path = isRoot ? root.Name : $"{root.Name} {command.Name}";
        var usage = isRoot
            ? $"{path} COMMAND [options]"
            : string.Join(' ', [
                path,
                .. command.Options.Where(o => o.Required).Select(o => $"{o.Name} {o.HelpName}"),
                "[options]",
                .. command.Arguments.Select(a => $"[{a.HelpName}...]"),
            ]);
        output.AppendLine($"Usage: {usage}").AppendLine();
        Wrap(output, command.Description ?? "", 0);
        if (isRoot)
        {
            Section(output, "Commands:", command.Subcommands.Select(c => (c.Name, c.Description ?? "")));
        }
        else
        {
            Section(output, "Arguments:", command.Arguments.Select(a => (a.HelpName ?? a.Name, a.Description ?? "")));
            Section(output, "Options:", command.Options.Select(Row));
        }

        Section(output, isRoot ? "Options (for every command):" : "Options for every command:", root.Options.Where(o => isRoot || o.Recursive).Select(Row));
        output.AppendLine();
        Wrap(output, Duration.Syntax, 0);
        Wrap(output, Cli.ExitCodes, 0);
        if (isRoot)
        {
            Wrap(output, $"`{root.Name} COMMAND --help` lists a command's options.", 0);
        }
    }

    private static (string Label, string Text) Row(Option option)
    {
        var names = option is HelpOption ? "-h, --help" : option.Name;
        var label = option.ValueType == typeof(bool) || option is HelpOption or VersionOption ? names : $"{names} {option.HelpName}";
        var text = option switch
        {
            HelpOption => "Show this help.",
            VersionOption => "Show the version.",
            _ => option.Description ?? "",
        };
        if (option.Required)
        {
            text = "Required. " + text;
        }
        else if (option.HasDefaultValue && DefaultText(option.GetDefaultValue()) is { } value)
        {
            text += $" [default: {value}]";
        }

        return (label, text);
    }

    private static string? DefaultText(object? value) => value switch
    {
        null or false => null,
        TimeSpan duration => Duration.Format(duration),
        string text => text,
        IEnumerable items => string.Join(", ", items.Cast<object>()),
        _ => value.ToString(),
    };

    private static void Section(StringBuilder output, string title, IEnumerable<(string Label, string Text)> rows)
    {
        var list = rows.ToList();
        if (list.Count == 0)
        {
            return;
        }

        output.AppendLine().AppendLine(title);
        var column = Math.Min(list.Max(r => r.Label.Length), 32) + 4;
        foreach (var (label, text) in list)
        {
            output.Append("  ").Append(label);
            if (label.Length + 2 > column - 2)
            {
                output.AppendLine();
                output.Append(' ', column);
            }
            else
            {
                output.Append(' ', column - label.Length - 2);
            }

            Wrap(output, text, column, firstLineIndented: true);
        }
    }

    /// <summary>Appends <paramref name="text"/> in lines of at most <see cref="Width"/> columns, continuation lines indented.</summary>
    private static void Wrap(StringBuilder output, string text, int indent, bool firstLineIndented = false)
    {
        var column = indent;
        var atLineStart = true;
        if (!firstLineIndented)
        {
            output.Append(' ', indent);
        }

        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!atLineStart && column + 1 + word.Length > Width)
            {
                output.AppendLine().Append(' ', indent);
                column = indent;
                atLineStart = true;
            }

            if (!atLineStart)
            {
                output.Append(' ');
                column++;
            }

            output.Append(word);
            column += word.Length;
            atLineStart = false;
        }

        output.AppendLine();
    }
}
