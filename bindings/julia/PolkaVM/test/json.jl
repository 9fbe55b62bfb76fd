# A JSON reader for the shared test data (tests/error_contract.json): Julia 1.5's standard library
# has none, and the tests run offline, without the General registry's JSON.jl.
# Objects become Dict{String,Any}, arrays Vector{Any}; strings, numbers, true, false and null.
module TestJSON

function parse_json(text::AbstractString)
    value, i = read_value(text, skip_blanks(text, 1))
    skip_blanks(text, i) > ncodeunits(text) || error("JSON: trailing characters at byte $i")
    value
end

function skip_blanks(text, i)
    while i <= ncodeunits(text) && text[i] in (' ', '\t', '\n', '\r')
        i += 1
    end
    i
end

function expect(text, i, c)
    i = skip_blanks(text, i)
    i <= ncodeunits(text) && text[i] == c || error("JSON: expected '$c' at byte $i")
    i + 1
end

function read_value(text, i)
    c = text[i]
    if c == '{'
        object, i = Dict{String,Any}(), skip_blanks(text, i + 1)
        text[i] == '}' && return object, i + 1
        while true
            key, i = read_string(text, skip_blanks(text, i))
            value, i = read_value(text, skip_blanks(text, expect(text, i, ':')))
            object[key] = value
            i = skip_blanks(text, i)
            text[i] == '}' && return object, i + 1
            i = expect(text, i, ',')
        end
    elseif c == '['
        array, i = Any[], skip_blanks(text, i + 1)
        text[i] == ']' && return array, i + 1
        while true
            value, i = read_value(text, skip_blanks(text, i))
            push!(array, value)
            i = skip_blanks(text, i)
            text[i] == ']' && return array, i + 1
            i = expect(text, i, ',')
        end
    elseif c == '"'
        read_string(text, i)
    else
        for (word, value) in (("true", true), ("false", false), ("null", nothing))
            startswith(SubString(text, i), word) && return value, i + ncodeunits(word)
        end
        number = match(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text, i)
        number !== nothing && number.offset == i || error("JSON: unexpected '$c' at byte $i")
        (number.captures[1] === nothing && number.captures[2] === nothing ? parse(Int, number.match) :
         parse(Float64, number.match)), i + ncodeunits(number.match)
    end
end

const ESCAPES = Dict('"' => '"', '\\' => '\\', '/' => '/', 'b' => '\b', 'f' => '\f', 'n' => '\n', 'r' => '\r', 't' => '\t')

function read_string(text, i)
    text[i] == '"' || error("JSON: expected a string at byte $i")
    out, i = IOBuffer(), i + 1
    while text[i] != '"'
        if text[i] == '\\'
            escaped = text[i + 1]
            if escaped == 'u'
                code = parse(UInt16, text[i+2:i+5]; base = 16)
                i += 6
                if 0xd800 <= code <= 0xdbff  # a surrogate pair
                    low = parse(UInt16, text[i+2:i+5]; base = 16)
                    write(out, Char(0x10000 + (UInt32(code - 0xd800) << 10) + (low - 0xdc00)))
                    i += 6
                else
                    write(out, Char(code))
                end
                continue
            end
            write(out, ESCAPES[escaped])
            i += 2
        else
            write(out, text[i])
            i = nextind(text, i)
        end
    end
    String(take!(out)), i + 1
end

end # module
